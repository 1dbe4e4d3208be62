"""Values -> SODA JSON, and chunking of rows and DataFrames (pure)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from opendata.portal.serialization import (
    deletion_rows,
    format_floating_timestamp,
    iter_chunks,
    known_total,
    serialize_row,
    to_soda_value,
)


@pytest.mark.parametrize(
    "value", [None, float("nan"), np.nan, pd.NA, pd.NaT, np.datetime64("NaT"), np.float32("nan")]
)
def test_missing_values_become_null(value):
    assert to_soda_value(value) is None


def test_numpy_and_python_scalars():
    assert to_soda_value(np.int64(7)) == 7 and type(to_soda_value(np.int64(7))) is int
    assert type(to_soda_value(np.float32(1.5))) is float
    assert to_soda_value(np.bool_(True)) is True
    assert to_soda_value(True) is True
    assert to_soda_value(Decimal("12.3400")) == "12.3400"
    assert to_soda_value(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert to_soda_value("text") == "text"


@pytest.mark.parametrize("value", [float("inf"), -np.inf, Decimal("Infinity")])
def test_infinity_is_rejected(value):
    with pytest.raises(ValueError):
        to_soda_value(value)


def test_floating_timestamps_have_milliseconds_and_no_zone():
    assert to_soda_value(dt.datetime(2014, 10, 13)) == "2014-10-13T00:00:00.000"
    assert to_soda_value(dt.datetime(2024, 2, 29, 23, 59, 58, 123999)) == "2024-02-29T23:59:58.123"
    assert to_soda_value(pd.Timestamp("2024-05-01 08:30:00.5")) == "2024-05-01T08:30:00.500"
    assert to_soda_value(np.datetime64("2024-05-01T08:30:00")) == "2024-05-01T08:30:00.000"
    assert to_soda_value(dt.date(2023, 1, 2)) == "2023-01-02T00:00:00.000"
    assert format_floating_timestamp(dt.datetime(1999, 12, 31, 1, 2, 3, 4000)) == "1999-12-31T01:02:03.004"


def test_aware_timestamps_become_utc_fixed_timestamps():
    la = ZoneInfo("America/Los_Angeles")
    assert to_soda_value(dt.datetime(2024, 1, 1, 12, 0, tzinfo=la)) == "2024-01-01T20:00:00.000Z"
    assert (
        to_soda_value(pd.Timestamp("2024-07-01 12:00", tz="America/Los_Angeles"))
        == "2024-07-01T19:00:00.000Z"
    )


def test_nested_geo_and_unsupported_values():
    point = {"type": "Point", "coordinates": np.array([-118.25, 34.05])}
    assert to_soda_value(point) == {"type": "Point", "coordinates": [-118.25, 34.05]}

    class Shape:
        __geo_interface__ = {"type": "Point", "coordinates": (1.0, 2.0)}

    assert to_soda_value(Shape()) == {"type": "Point", "coordinates": [1.0, 2.0]}
    with pytest.raises(TypeError):
        to_soda_value(b"bytes")
    with pytest.raises(TypeError, match="column 'd'"):
        serialize_row({"d": dt.timedelta(days=1)})


def test_dataframe_rows_are_json_ready():
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2, None], dtype="Int64"),
            "amount": [1.5, np.nan, 3.0],
            "opened": pd.to_datetime(["2024-01-01 10:00", None, "2024-01-03 00:00"]),
            "name": pd.array(["a", None, "c"], dtype="string"),
            "flag": [True, False, True],
        }
    )
    (chunk,) = list(iter_chunks(frame, 10))
    assert chunk[0] == {
        "id": 1,
        "amount": 1.5,
        "opened": "2024-01-01T10:00:00.000",
        "name": "a",
        "flag": True,
    }
    assert chunk[1] == {"id": 2, "amount": None, "opened": None, "name": None, "flag": False}
    assert chunk[2]["id"] is None
    json.dumps(chunk, allow_nan=False)  # strictly valid JSON


def test_chunking_packs_mixed_inputs_into_full_chunks():
    frames = [pd.DataFrame({"k": range(i * 7, i * 7 + 7)}) for i in range(3)]  # 21 rows in 3 frames
    rows = [{"k": 100 + i} for i in range(4)]
    chunks = list(iter_chunks([*frames, *rows], 10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [r["k"] for c in chunks for r in c] == [*range(21), 100, 101, 102, 103]


def test_chunking_is_lazy():
    def gen():
        for i in range(25):
            yield {"k": i}

    iterator = iter_chunks(gen(), 10)
    assert len(next(iterator)) == 10


def test_chunking_rejects_bad_input():
    with pytest.raises(TypeError):
        list(iter_chunks([1, 2], 10))
    with pytest.raises(ValueError):
        list(iter_chunks([], 0))


def test_deletion_rows_and_totals():
    assert list(deletion_rows("permit_id", [np.int64(5), "x"])) == [
        {"permit_id": 5, ":deleted": True},
        {"permit_id": "x", ":deleted": True},
    ]
    assert known_total(pd.DataFrame({"a": [1, 2]})) == 2
    assert known_total([pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1, 2]})]) == 3
    assert known_total([{"a": 1}]) == 1
    assert known_total(x for x in []) is None


# -- CSV (revision uploads) ---------------------------------------------------------------------
def test_csv_cells_follow_soda_types():
    from opendata.portal.serialization import csv_header, frame_csv_lines

    frame = pd.DataFrame(
        {
            "text": ["plain", 'comma, "quote"\nnewline', "", None],
            "int": [1, -2, 3, 4],
            "float": [1.5, np.nan, 1e20, 0.1 + 0.2],
            "flag": [True, False, True, False],
            "floating": pd.to_datetime(
                ["2024-01-02 03:04:05.678912", None, "2024-12-31 23:59:59", "2024-01-01"], format="ISO8601"
            ),
            "fixed": pd.to_datetime(
                ["2024-07-01 12:00", None, "2024-01-01 00:00", "2024-01-01 00:00"], format="ISO8601"
            ).tz_localize(
                "America/Los_Angeles"
            ),
            "nullable_int": pd.array([1, None, 3, 4], dtype="Int64"),
            "nullable_flag": pd.array([True, None, False, True], dtype="boolean"),
            "mixed": [Decimal("1.10"), dt.date(2024, 5, 6), {"type": "Point", "coordinates": [-118.24, 34.05]}, None],
        }
    )
    text = csv_header(list(frame.columns)) + frame_csv_lines(frame, list(frame.columns))
    lines = text.split("\n")
    assert lines[0] == "text,int,float,flag,floating,fixed,nullable_int,nullable_flag,mixed"
    assert lines[1] == "plain,1,1.5,true,2024-01-02T03:04:05.678,2024-07-01T19:00:00.000Z,1,true,1.10"
    assert lines[2] == '"comma, ""quote""'
    assert lines[3] == 'newline",-2,,false,,,,,2024-05-06T00:00:00.000'
    assert lines[4] == ",3,1e+20,true,2024-12-31T23:59:59.000,2024-01-01T08:00:00.000Z,3,false,POINT (-118.24 34.05)"
    assert lines[5] == ",4,0.30000000000000004,false,2024-01-01T00:00:00.000,2024-01-01T08:00:00.000Z,4,true,"


def test_csv_refuses_what_soda_cannot_hold():
    from opendata.portal.serialization import frame_csv_lines

    with pytest.raises(ValueError, match="column 'x'.*Infinite"):
        frame_csv_lines(pd.DataFrame({"x": [1.0, np.inf]}), ["x"])
    with pytest.raises(TypeError, match="column 'y'"):
        frame_csv_lines(pd.DataFrame({"y": [b"bytes"]}), ["y"])


def test_geometries_become_wkt():
    from opendata.portal.serialization import geojson_to_wkt

    assert geojson_to_wkt({"type": "Point", "coordinates": [1.5, 2]}) == "POINT (1.5 2)"
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    assert geojson_to_wkt(polygon) == "POLYGON ((0 0, 1 0, 1 1, 0 0))"
    assert geojson_to_wkt({"type": "Feature"}) is None


def test_byte_chunks_are_fixed_size_and_offsets_exact():
    from opendata.portal.serialization import csv_byte_chunks

    pieces = [b"a" * 5, b"b" * 2, b"c" * 9, b"", b"d"]
    chunks = list(csv_byte_chunks(iter(pieces), 4))
    expected = [(0, 0, 4), (1, 4, 4), (2, 8, 4), (3, 12, 4), (4, 16, 1)]
    assert [(seq, offset, len(data)) for seq, offset, data in chunks] == expected
    assert b"".join(data for _, _, data in chunks) == b"".join(pieces)
    assert [len(d) for _, _, d in csv_byte_chunks([b"x" * 8], 4)] == [4, 4]  # no empty tail chunk
    assert list(csv_byte_chunks([], 4)) == [(0, 0, b"")]


def test_frames_are_cut_into_batches_and_rows_grouped():
    from opendata.portal.serialization import iter_frames

    parts = list(iter_frames([pd.DataFrame({"a": range(5)}), {"a": 9}, {"a": 10}], 2))
    assert [len(p) for p in parts] == [2, 2, 1, 2]
    with pytest.raises(TypeError):
        list(iter_frames([1], 2))


def test_revision_upload_serialisation_memory_is_flat():
    """Rows pulled a DataFrame at a time and cut into chunks: the traced peak is the same for 20,000
    and 100,000 rows, and smaller than the CSV it produced."""
    import tracemalloc

    from opendata.portal.revisions import _Upload
    from opendata.portal.serialization import csv_byte_chunks

    def frames(n):
        for lo in range(0, n, 5000):
            i = np.arange(lo, min(n, lo + 5000))
            yield pd.DataFrame(
                {
                    "a": [f"P{k:07d}" for k in i],
                    "b": i * 1.25,
                    "c": pd.Timestamp("2024-01-01") + pd.to_timedelta(i, unit="min"),
                    "d": i % 2 == 0,
                }
            )

    peaks, sizes = [], []
    for n in (20_000, 100_000):
        tracemalloc.start()
        try:
            upload = _Upload(frames(n), list("abcd"), dict.fromkeys("abcd", "text"), False)
            chunks = sum(1 for _ in csv_byte_chunks(upload.pieces(), 256 * 1024))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        sizes.append(upload.bytes)
        assert upload.rows == n and chunks == -(-upload.bytes // (256 * 1024))
    assert peaks[1] <= peaks[0] * 1.3 + 512 * 1024, peaks
    assert peaks[1] < sizes[1], (peaks, sizes)


def test_whole_column_conversion_matches_the_per_value_rules():
    """The fast column-at-a-time path gives exactly what to_soda_value gives, value by value."""
    import datetime as dt
    from decimal import Decimal

    import numpy as np
    import pandas as pd

    from opendata.portal.serialization import _frame_records, serialize_row

    frame = pd.DataFrame({
        "text": pd.array(["a", None, "ünï"], dtype="string"),
        "objects": ["x", None, "z"],
        "mixed": [Decimal("1.10"), None, dt.date(2024, 2, 29)],
        "floats": [1.5, np.nan, 1e20],
        "ints": [1, 2, 3],
        "nullable_ints": pd.array([1, None, 3], dtype="Int64"),
        "flags": [True, False, True],
        "nullable_flags": pd.array([True, None, False], dtype="boolean"),
        "floating": pd.to_datetime(["2024-01-02 03:04:05.678", None, "1999-12-31 00:00:00.000"]),
        "fixed": pd.to_datetime(["2024-01-02 03:04:05", None, "2024-07-01 12:00:00"]).tz_localize(
            "America/Los_Angeles"),
    })
    (fast,) = list(_frame_records(frame, 10))
    slow = [serialize_row(dict(zip(frame.columns, values, strict=True)))
            for values in frame.itertuples(index=False, name=None)]
    assert fast == slow
    assert fast[0]["floating"] == "2024-01-02T03:04:05.678"
    assert fast[1]["floating"] is None and fast[1]["floats"] is None and fast[1]["nullable_flags"] is None


def test_infinite_numbers_are_refused_by_column_name():
    import numpy as np
    import pandas as pd
    import pytest

    from opendata.portal.serialization import _frame_records

    with pytest.raises(ValueError, match="column 'fee': Infinite numbers cannot be published"):
        list(_frame_records(pd.DataFrame({"fee": [1.0, np.inf]}), 10))


def test_prefetched_keeps_order_raises_in_place_and_stops_with_the_consumer():
    import threading

    import pytest

    from opendata.portal.serialization import prefetched

    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("column 'fee': bad")

    got = []
    with pytest.raises(ValueError, match="column 'fee': bad"):
        for item in prefetched(failing()):
            got.append(item)
    assert got == [1]

    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    before = set(threading.enumerate())
    stream = prefetched(endless(), depth=1)
    assert next(stream) == 0
    (worker,) = [t for t in threading.enumerate() if t.name == "socrata-chunk-prefetch" and t not in before]
    stream.close()
    assert not worker.is_alive()                # closing waited for the worker: no thread outlives it
    assert len(produced) <= 4                   # ... having prepared at most the queue's depth ahead
