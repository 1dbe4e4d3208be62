"""Masking of published columns, applied while staging, before anything is written to disk.

Pure functions on a typed pandas Series (the extract step calls ``mask`` on each converted
chunk column), so the unmasked values exist only in the chunk being converted.
"""

from __future__ import annotations

import re

import pandas as pd

from opendata.spec.privacy import MaskMethod, MaskRule

# A leading house number, optionally with a letter or a fraction ("1234", "1234B", "1234-1236").
_HOUSE_NUMBER = re.compile(r"^\s*(\d{1,6})[A-Za-z]?(?:-\d{1,6})?(?=\s)")


def hundred_block(text: str) -> str:
    """``1234 N Main St`` -> ``12XX N Main St``; ``56 Elm Ave`` -> ``XX Elm Ave``.

    The style police departments publish incident locations in: the block, not the door.
    Text without a leading house number (an intersection, a landmark) is left as it is.
    """
    return _HOUSE_NUMBER.sub(_block, text, count=1)


def _block(match: re.Match) -> str:
    hundreds = int(match.group(1)) // 100
    return f"{hundreds}XX" if hundreds else "XX"


def mask(values: pd.Series, rule: MaskRule) -> pd.Series:
    """The column's values with ``rule`` applied; empty values stay empty."""
    if rule.method is MaskMethod.REDACT:
        return values.mask(values.notna())
    if rule.method is MaskMethod.KEEP_FIRST:
        return values.str.slice(0, rule.keep)
    if rule.method is MaskMethod.HUNDRED_BLOCK:
        # str.replace keeps the column's text type even when every value is empty.
        return values.str.replace(_HOUSE_NUMBER, _block, regex=True)
    if rule.method in (MaskMethod.MONTH, MaskMethod.YEAR):
        return _truncate(values, "M" if rule.method is MaskMethod.MONTH else "Y")
    raise ValueError(f"unknown mask method {rule.method}")


def _truncate(values: pd.Series, unit: str) -> pd.Series:
    """Timestamps cut to the first instant of their month or year (in UTC for fixed ones)."""
    tz = values.dt.tz
    naive = values.dt.tz_localize(None) if tz is not None else values
    # numpy truncates datetime64 to a coarser unit exactly, and keeps NaT as NaT.
    cut = pd.Series(naive.to_numpy().astype(f"datetime64[{unit}]").astype("datetime64[ms]"), index=values.index)
    return cut.dt.tz_localize(tz) if tz is not None else cut
