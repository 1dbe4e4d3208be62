"""Row bodies encoded off the request path: orjson writes the values json.dumps wrote, errors from
the background encoder name the row and column and end its thread, retries re-send the same bytes,
and the emulator (a real HTTP server) stores what was meant, Unicode included."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opendata.portal import ColumnSpec, SocrataHook
from opendata.portal.serialization import (
    EncodedChunk,
    deletion_rows,
    encode_json,
    encoded_chunks,
    iter_chunks,
    millisecond_text,
    to_soda_value,
)
from opendata.sources.coerce import ARROW_TYPES
from opendata.sources.staged import staged_batches
from opendata.spec.vocab import SocrataType
from portal_emulator import testing
from tests.opendata.portal.socrata_fakes import Router, hook_with

DSID = "abcd-1234"
UTC = dt.UTC

# Eight values of every type the project stages (opendata.sources.coerce.ARROW_TYPES), with nulls
# and the awkward cases: Unicode beyond the BMP, escapes, control characters, extreme floats,
# times before 1970 and at the end of year 9999.
SAMPLES: dict[SocrataType, list[Any]] = {
    SocrataType.TEXT: ["plain", "", None, "Café ☕ 𝄞 日本語", 'quote " back \\ slash',
                       "line\nbreak\ttab\x01ctl", "\u2028sep\u2029", "x" * 3000],
    SocrataType.NUMBER: [0.0, -0.0, 1.5, None, 1e20, 1e-7, 123456789012345.67, 2.0**53 + 2],
    SocrataType.CHECKBOX: [True, False, None, True, False, True, None, False],
    SocrataType.FLOATING_TIMESTAMP: [
        dt.datetime(2024, 1, 1, 12, 34, 56, 789000), None, dt.datetime(1969, 12, 31, 23, 59, 59, 999000),
        dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999000), dt.datetime(2024, 2, 29),
        dt.datetime(1970, 1, 1), dt.datetime(2000, 6, 15, 0, 0, 0, 1000)],
    SocrataType.FIXED_TIMESTAMP: [
        dt.datetime(2024, 1, 1, 12, 34, 56, 789000, tzinfo=UTC), None,
        dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), dt.datetime(1900, 1, 1, tzinfo=UTC),
        dt.datetime(2024, 3, 10, 10, 0, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC),
        dt.datetime(2262, 4, 11, tzinfo=UTC), dt.datetime(2000, 6, 15, 0, 0, 0, 1000, tzinfo=UTC)],
    SocrataType.POINT: ["POINT (-118.24 34.05)", None, "POINT (0 0)", "POINT (-0.5 51.5)",
                        "POINT (139.69 35.68)", None, "POINT (1e-05 2)", "POINT (-180 -90)"],
    SocrataType.URL: ["https://example.org/a?b=c&d=é", None, "", "http://127.0.0.1:8080/x",
                      "https://例え.jp/パス", "mailto:a@b.c", None, "https://x.org/#frag"],
}


def typed(value: Any) -> Any:
    """A value with its JSON type made explicit, so 1, 1.0 and True do not compare equal."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, repr(value))


def staged_frames(tmp_path, types: list[SocrataType]) -> list[pd.DataFrame]:
    """The samples written and read back the way the pipeline stages and loads them."""
    schema = pa.schema([pa.field(t.value, ARROW_TYPES[t]) for t in types])
    table = pa.table({t.value: SAMPLES[t] for t in types}, schema=schema)
    path = tmp_path / "staged.parquet"
    pq.write_table(table, path)
    return [batch.to_pandas() for batch in staged_batches(path, batch_rows=5)]


def json_column_before(series: pd.Series) -> list[Any]:
    """``json_column`` as it was before bodies were encoded off the request path (6e68bc9)."""
    if pd.api.types.is_datetime64_any_dtype(series) and getattr(series.dt, "tz", None) is None:
        text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.slice(0, 23)
        return text.astype(object).where(series.notna(), None).tolist()
    if pd.api.types.is_float_dtype(series):
        return series.astype(object).where(series.notna(), None).tolist()
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
        return series.astype(object).where(series.notna(), None).tolist()
    if isinstance(series.dtype, pd.StringDtype):
        return series.astype(object).where(series.notna(), None).tolist()
    values = series.tolist()
    if all(value is None or type(value) is str for value in values):
        return values
    return [to_soda_value(value) for value in values]


def test_samples_cover_every_staged_type():
    assert set(SAMPLES) == set(ARROW_TYPES), "a new staged type needs samples here"
    assert len({len(v) for v in SAMPLES.values()}) == 1


def test_every_staged_type_encodes_to_the_values_json_dumps_sent(tmp_path):
    """New bodies (numpy timestamps, orjson) decode to exactly what sodapy's json.dumps of the
    previous conversion sent, and to the per-value rules, for every type the pipeline stages."""
    types = list(SAMPLES)
    frames = staged_frames(tmp_path, types)
    chunks = list(encoded_chunks(frames, 3))
    assert [c.rows for c in chunks] == [3, 3, 2] and [c.first_row for c in chunks] == [1, 4, 7]
    sent = [row for chunk in chunks for row in json.loads(chunk.body)]

    before = []
    for frame in frames:
        columns = [json_column_before(frame[c]) for c in frame.columns]
        before += [dict(zip(frame.columns, values, strict=True)) for values in zip(*columns, strict=True)]
    assert typed(sent) == typed(json.loads(json.dumps(before)))

    per_value = [{t.value: to_soda_value(SAMPLES[t][i]) for t in types} for i in range(len(SAMPLES[types[0]]))]
    assert typed(sent) == typed(json.loads(json.dumps(per_value)))
    # Spot checks of the contract itself, not only "same as before".
    assert sent[0]["floating_timestamp"] == "2024-01-01T12:34:56.789"
    assert sent[2]["floating_timestamp"] == "1969-12-31T23:59:59.999"
    assert sent[0]["fixed_timestamp"] == "2024-01-01T12:34:56.789Z"
    assert sent[3]["number"] is None and sent[1]["number"] == 0.0 and sent[4]["number"] == 1e20
    assert sent[3]["text"] == "Café ☕ 𝄞 日本語"
    assert "Café ☕ 𝄞".encode() in chunks[1].body  # UTF-8 on the wire, not \\u escapes


def test_millisecond_text_matches_numpy_over_the_whole_range():
    """Arrow's text of a timestamp is the same as numpy's ISO text, for any millisecond of years
    1-9999 (before 1970 too), any source unit (floored to milliseconds), and NaT."""
    rng = np.random.default_rng(14)
    low = np.datetime64("0001-01-01T00:00:00.000", "ms").astype(np.int64)
    high = np.datetime64("9999-12-31T23:59:59.999", "ms").astype(np.int64)
    millis = rng.integers(low, high, 200_000).astype("datetime64[ms]")
    millis[::97] = np.datetime64("NaT")
    expected = [None if t == "NaT" else t for t in np.datetime_as_string(millis, unit="ms").tolist()]
    assert millisecond_text(millis) == expected
    nanos = np.array(["1969-12-31T23:59:59.999999999", "2024-01-01T00:00:00.000500", "NaT"], "datetime64[ns]")
    assert millisecond_text(nanos) == ["1969-12-31T23:59:59.999", "2024-01-01T00:00:00.000", None]
    assert millisecond_text(np.array(["10000-01-01"], "datetime64[ms]")) is None  # left to the per-value rules


def test_mapping_rows_and_deletions_encode_the_same_both_ways():
    rows = [
        {"permit_id": "a", "n": 7, "big": 2**63 - 1, "price": Decimal("12.30"), "id": uuid.UUID(int=5),
         "np": np.int64(3), "f": np.float32(0.5), "geo": {"type": "Point", "coordinates": (-118.2, 34.0)},
         "when": pd.Timestamp("2024-05-01 08:00", tz="America/Los_Angeles"), "nan": float("nan")},
        *deletion_rows("permit_id", ["b", np.str_("c")]),
    ]
    (chunk,) = list(iter_chunks(rows, 10))
    body = encode_json(chunk)
    assert typed(json.loads(body)) == typed(json.loads(json.dumps(chunk)))
    decoded = json.loads(body)
    assert decoded[0]["when"] == "2024-05-01T15:00:00.000Z" and decoded[0]["nan"] is None
    assert decoded[1:] == [{"permit_id": "b", ":deleted": True}, {"permit_id": "c", ":deleted": True}]


@pytest.mark.parametrize(
    "rows",
    [
        [{"big": 2**70}, {"small": -(2**64)}],  # beyond 64 bits: orjson refuses
        [{"text": "lone \ud800 surrogate"}],  # not UTF-8: orjson refuses
        [{"geo": {1: "non-string key"}}],  # orjson refuses non-str keys
    ],
)
def test_what_orjson_refuses_is_encoded_exactly_as_before(rows):
    assert encode_json(rows) == json.dumps(rows).encode("ascii")


def test_unencodable_values_name_the_row_and_column():
    rows = [{"a": 1}, {"a": 2}, {"a": 3, "at": dt.datetime(2024, 1, 1)}]  # never converted
    with pytest.raises(TypeError, match=r"row 12, column 'at': .*datetime"):
        encode_json(rows, first_row=10)


@pytest.fixture
def scripted_conn(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
        "conn_type": "socrata", "host": "https://data.example.gov", "login": "key-id", "password": "pw",
        "extra": {"max_retries": 2, "backoff_base": 0}}))


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "socrata-chunk-prefetch" and t.is_alive()]


def upsert_echo(seen):
    return 200, {"Rows Created": len(seen.body), "Rows Updated": 0, "Rows Deleted": 0, "Errors": 0}


def view_json():
    return {"id": DSID, "name": "Permits", "publicationStage": "published", "rowIdentifierColumnId": 11,
            "columns": [{"id": 11, "fieldName": "permit_id", "name": "Permit ID", "dataTypeName": "text"}]}


@pytest.mark.parametrize("as_frames", [True, False])
def test_background_errors_name_the_row_and_column_and_end_the_thread(scripted_conn, as_frames):
    router = Router().on("GET", f"/api/views/{DSID}.json", (200, view_json())).on(
        "POST", f"/resource/{DSID}.json", upsert_echo
    )
    hook, script = hook_with(router)
    fee = [float(i) for i in range(16)]
    fee[11] = float("inf")  # row 12 of the input
    data = pd.DataFrame({"permit_id": [f"p{i}" for i in range(16)], "fee": fee})
    rows: Any = [data.iloc[:8], data.iloc[8:]] if as_frames else data.to_dict("records")
    before = set(prefetch_threads())
    with pytest.raises(ValueError, match=r"row 12: column 'fee': Infinite numbers"):
        hook.upsert(DSID, rows, chunk_size=5)
    # Every chunk complete before the bad row went out; nothing from its chunk or after it did.
    # (Frames are converted 5 rows at a time, so rows 6-8 wait for rows 9-13 and are not sent.)
    sent = [row["permit_id"] for s in script.seen if s.method == "POST" for row in s.body]
    assert sent == [f"p{i}" for i in range(5 if as_frames else 10)]
    assert set(prefetch_threads()) <= before  # the worker has ended, not only been told to


def test_a_retried_chunk_sends_the_same_bytes(scripted_conn):
    answers = iter([(503, {"message": "busy"}), (200, {"Rows Created": 3})])
    router = Router().on("GET", f"/api/views/{DSID}.json", (200, view_json())).on(
        "POST", f"/resource/{DSID}.json", lambda _seen: next(answers)
    )
    hook, script = hook_with(router)
    adapter = hook.adapter
    raw: list[bytes] = []
    send_once = adapter._send_once

    def recording(request, **kwargs):
        raw.append(request.body)
        return send_once(request, **kwargs)

    adapter._send_once = recording
    frame = pd.DataFrame({"permit_id": ["a", "b", "c"], "at": pd.to_datetime(["2024-01-01"] * 3),
                          "name": ["Zoë", "名前", None]})
    result = hook.upsert(DSID, frame)
    posts = [body for body in raw if body and body.startswith(b"[")]
    assert len(posts) == 2 and posts[0] == posts[1] and isinstance(posts[0], bytes)
    assert result.rows_created == 3 and adapter.retries == 1


def test_replace_of_nothing_sends_an_empty_array(scripted_conn):
    router = Router().on("GET", f"/api/views/{DSID}.json", (200, view_json())).on(
        "PUT", f"/resource/{DSID}.json", upsert_echo
    )
    hook, script = hook_with(router)
    hook.replace(DSID, iter([]), allow_empty=True)
    assert (script.seen[-1].method, script.seen[-1].body) == ("PUT", [])
    assert EncodedChunk(0, encode_json([])).body == b"[]"


# -- against the emulator (a real HTTP server in its own process) -----------------------------------
@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with testing.run_emulator(tmp_path_factory.mktemp("portal")) as emulator:
        yield emulator


def test_the_portal_stores_what_was_meant(emu, tmp_path, monkeypatch):
    user, password = emu.auth("publisher")
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps(
        {"conn_type": "socrata", "host": emu.url, "login": user, "password": password}))
    columns = [ColumnSpec("permit_id", "Permit ID", "text")] + [
        ColumnSpec(t.value, t.value, t.views_api_name) for t in (SocrataType.TEXT, SocrataType.NUMBER,
                                                                  SocrataType.CHECKBOX,
                                                                  SocrataType.FLOATING_TIMESTAMP)]
    with SocrataHook() as hook:
        dataset_id = hook.create_dataset("Upload bodies", columns, row_identifier="permit_id")
        frames = staged_frames(tmp_path, [SocrataType.TEXT, SocrataType.NUMBER, SocrataType.CHECKBOX,
                                          SocrataType.FLOATING_TIMESTAMP])
        frames = [f.assign(permit_id=[f"p{i}" for i in range(n * 5, n * 5 + len(f))]) for n, f in enumerate(frames)]
        result = hook.upsert(dataset_id, frames, chunk_size=3)
        assert (result.rows_created, result.requests) == (8, 3)
        gone = hook.upsert_deletions(dataset_id, "permit_id", ["p7"])
        assert gone.rows_deleted == 1
        stored = {row["permit_id"]: row for row in hook.iter_rows(dataset_id)}
    assert sorted(stored) == ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]
    assert stored["p3"]["text"] == "Café ☕ 𝄞 日本語" and stored["p4"]["text"] == 'quote " back \\ slash'
    assert stored["p0"]["floating_timestamp"] == "2024-01-01T12:34:56.789"
    assert stored["p0"]["checkbox"] is True and "number" not in {k for k, v in stored["p3"].items() if v}
