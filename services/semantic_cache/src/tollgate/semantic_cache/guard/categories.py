"""Alternatives that fill the same slot of a real-estate question.

"3-bed condos in Austin" and "3-bed houses in Austin" differ in one word that an embedding barely
notices but that changes the answer. Each group below lists alternatives for one slot (property
type, transaction side, lead temperature...), synonyms sharing a class. Two questions conflict
when both name a class of the same group and the classes differ; a question silent on a group
conflicts with nothing there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tollgate.semantic_cache.guard.text import words

_GROUPS: dict[str, dict[str, str]] = {
    "property type": {
        "house": "house, houses, home, homes, single-family, single family, detached, sfh",
        "condo": "condo, condos, condominium, condominiums",
        "townhouse": "townhouse, townhouses, townhome, townhomes, rowhouse, rowhouses",
        "apartment": "apartment, apartments, apt, apts, flat, flats, studio, studios",
        "multi-family": "duplex, duplexes, triplex, fourplex, multifamily, multi-family,"
        " multi family",
        "land": "land, lot, lots, acreage, parcel, parcels",
        "commercial": "commercial, retail, warehouse, warehouses",
        "mobile home": "manufactured, mobile home, mobile homes",
    },
    "transaction": {
        "buy": "buy, buys, buying, bought, buyer, buyers, purchase, purchases, purchasing,"
        " purchased",
        "sell": "sell, sells, selling, sold, seller, sellers",
        "rent": "rent, rents, renting, rented, renter, renters, rental, rentals, lease, leases,"
        " leasing, leased, tenant, tenants, landlord, landlords",
    },
    "lead temperature": {
        "hot": "hot",
        "warm": "warm",
        "cold": "cold",
    },
    "channel": {
        "email": "email, emails, e-mail, e-mails",
        "text": "text, texts, texting, sms",
        "call": "call, calls, calling, phone, voicemail",
        "letter": "letter, letters, mailer, postcard, postcards",
    },
    "financing": {
        "cash": "cash",
        "loan": "mortgage, mortgages, loan, loans, financing, financed, lender, lenders",
    },
    "amenity": {
        "pool": "pool, pools",
        "garage": "garage, garages",
        "basement": "basement, basements",
        "yard": "yard, yards, backyard, backyards, garden, gardens",
        "fireplace": "fireplace, fireplaces",
        "waterfront": "waterfront, lakefront, beachfront, oceanfront",
        "view": "view, views",
        "balcony": "balcony, balconies",
        "home office": "home office, office",
    },
}


def _index(groups: Mapping[str, Mapping[str, str]]) -> dict[tuple[str, ...], tuple[str, str]]:
    """Phrase (as words) → (group, class); each class lists its phrases separated by commas."""
    out: dict[tuple[str, ...], tuple[str, str]] = {}
    for group, classes in groups.items():
        for name, spelled in classes.items():
            for phrase in spelled.split(","):
                out[tuple(phrase.split())] = (group, name)
    return out


_PHRASES = _index(_GROUPS)
_LONGEST = max(len(p) for p in _PHRASES)


@dataclass(frozen=True)
class Categories:
    # Group → the classes the question names in it.
    by_group: dict[str, frozenset[str]]


def extract_categories(text: str) -> Categories:
    tokens = [w.lower for w in words(text)]
    found: dict[str, set[str]] = {}
    index = 0
    while index < len(tokens):
        for size in range(min(_LONGEST, len(tokens) - index), 0, -1):
            hit = _PHRASES.get(tuple(tokens[index : index + size]))
            if hit:
                group, name = hit
                found.setdefault(group, set()).add(name)
                index += size
                break
        else:
            index += 1
    return Categories({g: frozenset(c) for g, c in found.items()})


def conflicts(a: Categories, b: Categories) -> list[tuple[str, frozenset[str], frozenset[str]]]:
    """(group, classes in a, classes in b) for each group both name differently."""
    out = []
    for group in sorted(a.by_group.keys() & b.by_group.keys()):
        if a.by_group[group] != b.by_group[group]:
            out.append((group, a.by_group[group], b.by_group[group]))
    return out
