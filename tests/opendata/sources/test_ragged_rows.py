"""Rows that do not line up with the header are left out and counted with their line, for CSV
files, Excel sheets and CSV endpoints; reading stays chunked and gives what pandas gave."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pyarrow.parquet as pq
import pytest

from opendata.sources import csv_reader
from opendata.sources.base import ExtractError
from opendata.sources.coerce import CoercionReport, coerce_chunk
from opendata.sources.csv_reader import csv_chunks
from opendata.sources.fingerprint import row_hashes
from opendata.sources.ragged import RaggedRows
from opendata.sources.stage import extract_to_stage
from opendata.spec.loader import load_catalog
from tests.conftest import SAMPLE_SOURCES
from tests.opendata.sources.test_extract import spec_with


def read(text: str, chunk_size: int = 100, **kwargs) -> tuple[list[pd.DataFrame], RaggedRows]:
    ragged = RaggedRows()
    frames = list(csv_chunks(io.StringIO(text, newline=""), origin="t.csv", chunk_size=chunk_size, ragged=ragged,
                             **kwargs))
    return frames, ragged


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("chunk_size", [1, 2, 100])
def test_ragged_records_are_named_by_the_line_they_start_on(newline, chunk_size):
    lines = ["a,b,c",             # 1
             "1,2,3",             # 2
             "4,5",               # 3: too few
             '"x' + newline + 'y",7,8',   # 4-5: one record over two lines
             "9,10,11,12",        # 6: too many
             "",                  # 7: blank, skipped
             "13,,15",            # 8: an empty cell is missing, not ragged
             '"p' + newline + newline + 'q",1',  # 9-11: too few, over three lines
             "16,17,18"]          # 12
    frames, ragged = read(newline.join(lines) + newline, chunk_size=chunk_size)
    assert ragged.as_dict() == {"count": 3, "expected": 3, "samples": [
        "line 3: 2 of 3 fields", "line 6: 4 of 3 fields", "line 9: 2 of 3 fields"]}
    frame = pd.concat(frames, ignore_index=True)
    assert frame["a"].tolist() == ["1", f"x{newline}y", "13", "16"]
    assert frame["b"].isna().tolist() == [False, False, True, False]
    assert all(len(f) <= chunk_size for f in frames)


def test_reading_stays_chunked():
    body = "id,v\n" + "".join(f"{i},x\n" for i in range(1050))
    frames, ragged = read(body, chunk_size=100)
    assert [len(f) for f in frames] == [100] * 10 + [50]
    assert ragged.count == 0


def test_samples_stop_at_five_but_every_row_is_counted():
    body = "a,b\n" + "".join("1\n" if i % 2 else "1,2\n" for i in range(40))
    frames, ragged = read(body, chunk_size=7)
    assert ragged.count == 20
    assert ragged.samples == [f"line {n}: 1 of 2 fields" for n in (3, 5, 7, 9, 11)]
    assert str(ragged).endswith("line 11: 1 of 2 fields and 15 more)")
    assert sum(len(f) for f in frames) == 20


def test_a_header_naming_a_column_twice_is_refused():
    with pytest.raises(ExtractError, match=r"^the header of t.csv \(line 1\) names a column twice: b$"):
        read("a,b,b\n1,2,3\n")


def test_a_cell_past_the_reader_s_limit_stops_the_extract_naming_the_line(monkeypatch):
    previous = csv.field_size_limit()
    monkeypatch.setattr(csv_reader, "MAX_FIELD_CHARS", 1000)
    csv.field_size_limit(1000)
    try:
        with pytest.raises(ExtractError, match=r"^cannot parse t.csv as CSV at line 3: field larger than field limit"):
            read("a,b\n1,2\n3," + "x" * 2000 + "\n")
    finally:
        csv.field_size_limit(previous)


def test_the_file_s_encoding_and_byte_order_mark(tmp_path):
    rows = pd.read_csv(SAMPLE_SOURCES / "service_requests_311.csv", dtype=str, nrows=20)
    rows.loc[2, "address"] = "Calle Niño"
    path = tmp_path / "latin.csv"
    rows.to_csv(path, index=False, encoding="latin-1")
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(path), "encoding": "latin-1"})
    assert pd.read_parquet(extract_to_stage(spec, tmp_path / "a.parquet").path)["address"][2] == "Calle Niño"
    path = tmp_path / "bom.csv"
    rows.to_csv(path, index=False, encoding="utf-8-sig")
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(path)})
    assert extract_to_stage(spec, tmp_path / "b.parquet").rows == 20


def test_a_file_that_is_not_the_encoding_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"sr_number,address\n1,ok\n2,Ni\xf1o\n")
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(path)})
    with pytest.raises(ExtractError, match=r"cannot parse .*bad.csv as CSV after line \d: invalid continuation byte"):
        extract_to_stage(spec, tmp_path / "x.parquet")


def test_only_ragged_rows_is_an_empty_extract_that_says_why(tmp_path):
    path = tmp_path / "requests.csv"
    path.write_text("sr_number,created_date\n1-1,2026-01-01,extra\n")
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(path)})
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(spec, tmp_path / "x.parquet")
    assert str(caught.value) == (
        "dataset service-requests-311: the source returned no rows (1 row(s) with the wrong number of fields "
        "(line 2: 3 of 2 fields) were left out); refusing to stage an empty extract")


def old_checksum(path, spec, chunk_size: int) -> str:
    """The content checksum the extract had when pandas read the file."""
    digest = hashlib.sha256()
    with pd.read_csv(path, dtype=str, chunksize=chunk_size, keep_default_na=False, na_values=[""]) as reader:
        for i, chunk in enumerate(reader):
            chunk.index = pd.RangeIndex(i * chunk_size, i * chunk_size + len(chunk))
            digest.update(row_hashes(coerce_chunk(spec, chunk, CoercionReport())).tobytes())
    return digest.hexdigest()


def test_a_clean_file_stages_exactly_what_pandas_read(tmp_path):
    spec = load_catalog().get("service-requests-311").spec
    staged = extract_to_stage(spec, tmp_path / "x.parquet")
    assert staged.checksum == old_checksum(SAMPLE_SOURCES / "service_requests_311.csv", spec, spec.source.chunk_size)
    assert staged.ragged_rows["count"] == 0


# --- Excel ----------------------------------------------------------------------------------------

def test_excel_values_right_of_the_header_leave_the_row_out(tmp_path):
    from openpyxl import Workbook

    rows = pd.read_csv(SAMPLE_SOURCES / "service_requests_311.csv", dtype=str, nrows=30)
    book = Workbook()
    sheet = book.active
    sheet.append(list(rows.columns))
    for i, record in enumerate(rows.itertuples(index=False)):
        values = [None if pd.isna(v) else v for v in record]
        if i == 2:
            sheet.append([])                  # an empty row (sheet row 4): skipped, and counted in the numbering
        if i == 4:
            values = [None] + values          # pasted one column to the right: sheet row 7
        if i == 9:
            values = values[:5]               # trailing empty cells: an ordinary Excel row
        sheet.append(values)
    path = tmp_path / "requests.xlsx"
    book.save(path)
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(path), "chunk_size": 100})
    staged = extract_to_stage(spec, tmp_path / "x.parquet")
    assert staged.ragged_rows == {"count": 1, "expected": 11, "samples": ["sheet row 7: 12 of 11 columns"]}
    frame = pd.read_parquet(staged.path)
    assert staged.rows == 29
    assert rows["sr_number"][4] not in set(frame["sr_number"])
    assert pd.isna(frame.set_index("sr_number").loc[rows["sr_number"][9], "address"])


# --- HTTP -----------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_HTTP_SOURCE_HOSTS", "127.0.0.1")  # a host the deployment allows
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_csv_ragged_rows_are_counted_with_their_lines(served, tmp_path):
    lines = (SAMPLE_SOURCES / "service_requests_311.csv").read_text().splitlines()[:101]
    lines[7] = ",".join(lines[7].split(",")[:7])
    (tmp_path / "requests.csv").write_text("\n".join(lines) + "\n")
    spec = spec_with("service-requests-311", source={"kind": "http", "url": f"{served}/requests.csv",
                                                     "format": "csv", "chunk_size": 100})
    staged = extract_to_stage(spec, tmp_path / "x.parquet")
    assert staged.rows == 99
    assert staged.ragged_rows["samples"] == ["line 8: 7 of 11 fields"]


def test_http_json_records_missing_keys_are_not_ragged(served, tmp_path):
    records = json.loads((SAMPLE_SOURCES / "restaurant_inspections.json").read_text())["data"][:120]
    del records[3]["score"]
    (tmp_path / "inspections.json").write_text(json.dumps({"data": records}))
    spec = spec_with("restaurant-inspections", source={"kind": "http", "url": f"{served}/inspections.json",
                                                       "format": "json", "records_path": "data", "chunk_size": 100})
    staged = extract_to_stage(spec, tmp_path / "x.parquet")
    assert staged.rows == 120
    assert staged.ragged_rows["count"] == 0
    assert pq.read_table(staged.path).column("score").null_count >= 1
