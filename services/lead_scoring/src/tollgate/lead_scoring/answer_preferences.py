"""What the lead wants and how to reach them: areas, property types, contact channels.

Negation is read per clause: "not a condo, a house" wants a house; "Don't text, email me"
prefers email and excludes text; "no calls" excludes the phone without preferring anything.
"Only email" / "texts only" also excludes the other channels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tollgate.lead_scoring.answer_text import NUMBER_PATTERN, clauses, number, says_nothing


class PropertyType(StrEnum):
    SINGLE_FAMILY = "single_family"
    CONDO = "condo"
    TOWNHOUSE = "townhouse"
    MULTI_FAMILY = "multi_family"
    LAND = "land"
    MOBILE_HOME = "mobile_home"


class Channel(StrEnum):
    PHONE = "phone"
    TEXT = "text"
    EMAIL = "email"


# Checked in this order: a "mobile home" is not a single-family "home".
_TYPE_WORDS: tuple[tuple[PropertyType, re.Pattern[str]], ...] = (
    (PropertyType.MOBILE_HOME, re.compile(r"\b(mobile|manufactured)\s*homes?\b", re.I)),
    (
        PropertyType.MULTI_FAMILY,
        re.compile(
            r"\b(duplex|triplex|fourplex|quadplex|multi[- ]?family|multifamily|\w+[- ]?plex|"
            r"apartment building|income property)\w*",
            re.I,
        ),
    ),
    (PropertyType.TOWNHOUSE, re.compile(r"\b(town\s?(?:house|home)|row\s?house)s?\b", re.I)),
    (PropertyType.CONDO, re.compile(r"\b(condo(?:minium)?|apartment|flat|loft)s?\b", re.I)),
    (PropertyType.LAND, re.compile(r"\b(land|lot|acreage|acres?|parcel)s?\b", re.I)),
    (
        PropertyType.SINGLE_FAMILY,
        re.compile(
            r"\b(sfh|sfr|single[- ]?family|house|home|detached|bungalow|ranch|cottage|"
            r"villa|craftsman|colonial)s?\b",
            re.I,
        ),
    ),
)
_BEDROOMS = re.compile(NUMBER_PATTERN + r"\s*-?\s*(?:bed(?:room)?s?|br|bd|bdr|bdrm)\b", re.I)
_NEGATED = (
    r"\b(?:no|not|never|without|don'?t|do not|can'?t|cannot|won'?t|avoid|except|please don'?t)\b"
)

_CHANNEL_WORDS: dict[Channel, re.Pattern[str]] = {
    Channel.PHONE: re.compile(r"\b(call(?:s|ing)?|phone(?: calls?)?|ring|cell)\b", re.I),
    Channel.TEXT: re.compile(r"\b(text(?:s|ing)?|sms|whats\s?app|imessage|message me)\b", re.I),
    Channel.EMAIL: re.compile(r"\b(e-?mails?|mail|inbox)\b", re.I),
}
_ONLY = re.compile(r"\bonly\b", re.I)
_TIMES = re.compile(
    r"\b(mornings?|afternoons?|evenings?|nights?|weekends?|weekdays?|lunch|after work|"
    r"\d{1,2}\s*(?:am|pm)|after \d{1,2})\b",
    re.I,
)
_AREA_FILLER = re.compile(
    r"\b(somewhere|preferably|ideally|either|near(?:by)?|close to|around|in or around|in|"
    r"the\s+\w+\s+area|areas?|if possible|neighbou?rhoods?|part of town|please)\b",
    re.I,
)
_AREA_SPLIT = re.compile(r"\s*(?:,|/|;|&|\bor\b|\band\b|\+)\s*", re.I)
_AREA_EXCLUSION = re.compile(r"\b(?:but not|not|no|except|excluding)\b.*$", re.I)


@dataclass(frozen=True)
class PropertyWish:
    types: frozenset[PropertyType] = frozenset()
    bedrooms: int | None = None

    @property
    def known(self) -> bool:
        return bool(self.types) or self.bedrooms is not None


@dataclass(frozen=True)
class ContactWish:
    preferred: tuple[Channel, ...] = ()
    excluded: frozenset[Channel] = frozenset()
    # Said when to reach them ("evenings", "after 6pm").
    times_given: bool = False

    @property
    def known(self) -> bool:
        return bool(self.preferred or self.excluded or self.times_given)

    def channel(self) -> Channel | None:
        """The channel to use: the first preferred, else the first one not excluded."""
        if self.preferred:
            return self.preferred[0]
        for candidate in (Channel.PHONE, Channel.TEXT, Channel.EMAIL):
            if candidate not in self.excluded:
                return candidate
        return None


def _negated_before(clause: str, start: int) -> bool:
    return bool(re.search(_NEGATED, clause[:start], re.I))


def read_property(text: str) -> PropertyWish:
    if not text.strip() or says_nothing(text):
        return PropertyWish()
    wanted: set[PropertyType] = set()
    for clause in clauses(text):
        claimed: list[tuple[int, int]] = []
        for kind, pattern in _TYPE_WORDS:
            for match in pattern.finditer(clause):
                if any(a <= match.start() < b for a, b in claimed):
                    continue
                claimed.append((match.start(), match.end()))
                if not _negated_before(clause, match.start()):
                    wanted.add(kind)
    bedrooms = None
    beds = _BEDROOMS.search(text)
    if beds:
        count = number(beds.group(1))
        if count is not None and 0 < count < 20:
            bedrooms = int(count)
    return PropertyWish(frozenset(wanted), bedrooms)


def read_contact(text: str) -> ContactWish:
    if not text.strip() or says_nothing(text):
        return ContactWish()
    preferred: list[Channel] = []
    excluded: set[Channel] = set()
    only: set[Channel] = set()
    for clause in clauses(text):
        for channel, pattern in _CHANNEL_WORDS.items():
            match = pattern.search(clause)
            if match is None:
                continue
            if _negated_before(clause, match.start()):
                excluded.add(channel)
            else:
                if channel not in preferred:
                    preferred.append(channel)
                if _ONLY.search(clause):
                    only.add(channel)
    if only:
        excluded |= set(Channel) - only
    preferred = [c for c in preferred if c not in excluded]
    return ContactWish(tuple(preferred), frozenset(excluded), bool(_TIMES.search(text)))


def read_areas(text: str) -> tuple[str, ...]:
    """Place names, in the order given, without fillers or places the lead ruled out."""
    if not text.strip() or says_nothing(text):
        return ()
    areas: list[str] = []
    for clause in clauses(text):
        kept = _AREA_EXCLUSION.sub("", clause)
        for part in _AREA_SPLIT.split(_AREA_FILLER.sub(" ", kept)):
            name = " ".join(part.split())
            if len(re.findall(r"[A-Za-z]", name)) < 2:
                continue
            if name.islower():
                name = name.title()
            if name.lower() not in (a.lower() for a in areas):
                areas.append(name)
    return tuple(areas)
