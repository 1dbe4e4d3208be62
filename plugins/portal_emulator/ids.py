"""Identifiers: dataset 4x4s and row ``:id`` values.

Row ids encode the row's storage id (sid) in Socrata's 4x4 alphabet, which is ASCII-sorted, so
ordering by ``:id`` is ordering by sid: paging with ``$order=:id`` walks the primary key and
``:id`` literals in ``$where`` turn into integer comparisons.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
# Shifts the encoding away from "row-2222-2222-2223" so ids look like portal ids; order is kept.
_OFFSET = 7 * 32**11 + 123_456_789_012
_C = f"[{ALPHABET}]{{4}}"
_ROW_ID = re.compile(f"^row-({_C})-({_C})-({_C})$")
FOURFOUR = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")


def new_fourfour() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def row_id(sid: int) -> str:
    n = sid + _OFFSET
    out = []
    for _ in range(12):
        n, r = divmod(n, 32)
        out.append(ALPHABET[r])
    s = "".join(reversed(out))
    return f"row-{s[:4]}-{s[4:8]}-{s[8:]}"


def sid_of(value: str) -> int | None:
    """The sid encoded in a ``:id`` value, or None if it is not one of ours."""
    m = _ROW_ID.match(value or "")
    if not m:
        return None
    n = 0
    for c in "".join(m.groups()):
        n = n * 32 + _INDEX[c]
    sid = n - _OFFSET
    return sid if sid > 0 else None
