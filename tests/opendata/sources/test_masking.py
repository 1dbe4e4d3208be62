"""Masking functions, one value at a time."""

from __future__ import annotations

import pandas as pd
import pytest

from opendata.sources.masking import hundred_block, mask
from opendata.spec.privacy import MaskRule
from opendata.validation.pii import kinds_in


@pytest.mark.parametrize("address,masked", [
    ("1234 N Main St", "12XX N Main St"), ("56 Elm Ave", "XX Elm Ave"), ("1234B Oak Dr", "12XX Oak Dr"),
    ("1234-1236 Oak Dr", "12XX Oak Dr"), ("Main St & 1st St", "Main St & 1st St"),
])
def test_hundred_block(address, masked):
    assert hundred_block(address) == masked
    assert not kinds_in(masked)


def test_masks_keep_empty_values_empty():
    text = pd.Series(["90012", None, "91303"], dtype="str")
    assert mask(text, MaskRule(method="keep_first", keep=3)).tolist()[::2] == ["900", "913"]
    assert mask(text, MaskRule(method="keep_first", keep=3)).isna().tolist() == [False, True, False]
    assert mask(text, MaskRule(method="redact")).isna().all()


def test_dates_to_month_or_year_keep_their_type_and_zone():
    floating = pd.Series(pd.to_datetime(["2020-05-17 10:00", None])).astype("datetime64[ms]")
    masked = mask(floating, MaskRule(method="year"))
    assert masked.iloc[0] == pd.Timestamp("2020-01-01") and pd.isna(masked.iloc[1])
    assert str(masked.dtype) == "datetime64[ms]"
    fixed = pd.Series(pd.to_datetime(["2020-05-17 10:00"], utc=True)).astype("datetime64[ms, UTC]")
    masked = mask(fixed, MaskRule(method="month"))
    assert str(masked.dtype) == "datetime64[ms, UTC]"
    assert masked.iloc[0] == pd.Timestamp("2020-05-01", tz="UTC")
