"""Personal data kept out of what is sent to Claude.

Before a lead goes into a prompt: profile attributes that name a person or a way to reach them
(name, email, phone, address and the like, plus any field configured as personal) are dropped;
their values, the lead's name, and anything that looks like an email address, a phone number or
a street address are replaced in every text (answers, attributes, conversation) by a marker such
as "[email]". A field on the allow-list passes as is, for templates that need it (the
orchestrator's lead_analysis template has a `lead_name` variable: it gets the name only when
"name" is allowed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_PII_FIELDS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "email",
        "email_address",
        "phone",
        "phone_number",
        "mobile",
        "cell",
        "address",
        "street",
        "street_address",
        "home_address",
        "zip",
        "zip_code",
        "postal_code",
        "ssn",
        "date_of_birth",
        "dob",
        "birthday",
    }
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Ten or more digits in phone shapes: "(512) 555-0134", "+1 512 555 0134", "512.555.0134".
_PHONE = re.compile(
    r"(?<![\w$])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)"
)
_STREET = re.compile(
    r"\b\d{1,6}\s+(?:[A-Za-z][\w'-]*\s+){1,4}"
    r"(?:st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|ct|court|way|pl|place|"
    r"ter|terrace|cir|circle|pkwy|parkway|hwy|highway)\b",
    re.IGNORECASE,
)
_MIN_NAME_PART = 3


def _key(field: str) -> str:
    return field.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class PiiFilter:
    # Attribute keys passed through although personal (e.g. "name" for a template that needs it).
    allowed: frozenset[str] = frozenset()
    # Attribute keys treated as personal on top of the defaults.
    extra_fields: frozenset[str] = frozenset()

    @classmethod
    def from_lists(cls, allowed: Iterable[str], extra_fields: Iterable[str]) -> PiiFilter:
        return cls(frozenset(map(_key, allowed)), frozenset(map(_key, extra_fields)))

    def allows(self, field: str) -> bool:
        return _key(field) in self.allowed

    def is_personal(self, field: str) -> bool:
        key = _key(field)
        return key not in self.allowed and (key in DEFAULT_PII_FIELDS or key in self.extra_fields)

    def scrubber(self, name: str, attributes: dict[str, str]) -> Scrubber:
        """A scrubber for one lead: its name and personal attribute values are masked too."""
        secrets: list[tuple[str, str]] = []
        if not self.allows("name"):
            parts = [name.strip(), *name.split()]
            secrets.extend((p, "[name]") for p in parts if len(p) >= _MIN_NAME_PART)
        for key, value in attributes.items():
            if self.is_personal(key) and len(value.strip()) >= _MIN_NAME_PART:
                secrets.append((value.strip(), f"[{_key(key)}]"))
                if "name" in _key(key):
                    secrets.extend((p, "[name]") for p in value.split() if len(p) >= _MIN_NAME_PART)
        # Longest first, so a full name is masked before its parts.
        secrets.sort(key=lambda item: len(item[0]), reverse=True)
        return Scrubber(
            tuple((re.compile(r"(?<!\w)" + re.escape(s) + r"(?!\w)", re.I), m) for s, m in secrets),
            mask_addresses=not self.allows("address"),
            mask_emails=not self.allows("email"),
            mask_phones=not self.allows("phone"),
        )


@dataclass(frozen=True)
class Scrubber:
    secrets: tuple[tuple[re.Pattern[str], str], ...]
    mask_addresses: bool = True
    mask_emails: bool = True
    mask_phones: bool = True

    def __call__(self, text: str) -> str:
        if self.mask_emails:
            text = _EMAIL.sub("[email]", text)
        if self.mask_phones:
            text = _PHONE.sub("[phone]", text)
        if self.mask_addresses:
            text = _STREET.sub("[address]", text)
        for pattern, marker in self.secrets:
            text = pattern.sub(marker, text)
        return text
