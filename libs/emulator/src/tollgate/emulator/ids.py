"""Ids shaped like the API's (``msg_01…``, ``toolu_01…``, ``msgbatch_01…``)."""

from __future__ import annotations

import secrets
import string

_ID_ALPHABET = (string.ascii_letters + string.digits).encode("ascii")
# Byte value -> id character (ids need not be uniform, only unique enough).
_ID_TABLE = bytes(_ID_ALPHABET[i % len(_ID_ALPHABET)] for i in range(256))


def random_id(prefix: str) -> str:
    """The prefix and 22 random letters and digits, from one read of the system's randomness
    (one read per character cost 5% of the emulator's CPU)."""
    return prefix + secrets.token_bytes(22).translate(_ID_TABLE).decode("ascii")
