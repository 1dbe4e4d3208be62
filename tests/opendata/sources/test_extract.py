"""Extraction from every source kind into a typed, staged Parquet file, and its failures.

Real sources only: SQLite and the machine's PostgreSQL through Airflow connections, files on
disk, and HTTP servers on localhost.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pyarrow.parquet as pq
import pytest

from opendata.sources.base import ExtractError
from opendata.sources.stage import extract_to_stage
from opendata.spec.dataset import DatasetSpec
from opendata.spec.loader import load_catalog
from tests.conftest import PG_HOST, PG_PORT, PG_USER, SAMPLE_SOURCES


def spec_with(dataset_id: str, **changes) -> DatasetSpec:
    spec = load_catalog().get(dataset_id).spec
    data = spec.model_dump(mode="json")
    for key, value in changes.items():
        data[key] = value
    return DatasetSpec.model_validate(data)


def permits_with_source(**source) -> DatasetSpec:
    base = {"kind": "sql", "conn_id": "permits_db", "query_file": "building_permits.sql", "chunk_size": 1000}
    return spec_with("building-permits", source={**base, **source})


@pytest.fixture
def permits_pg_conn(monkeypatch, permits_postgres):
    monkeypatch.setenv("AIRFLOW_CONN_PERMITS_PG", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{permits_postgres}")


# --- SQL -----------------------------------------------------------------------------------------

def test_sql_sqlite_extract_is_typed_and_complete(sample_connections, tmp_path):
    spec = load_catalog().get("building-permits").spec
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    assert staged.rows == 4000
    table = pq.read_table(staged.path)
    assert table.num_rows == 4000
    assert table.schema.names == spec.field_names
    assert str(table.schema.field("issue_date").type) == "timestamp[ms]"
    assert str(table.schema.field("valuation").type) == "double"
    frame = table.to_pandas()
    assert frame["permit_nbr"].is_unique
    assert frame["valuation"].isna().sum() == 4          # the sample's missing valuations survive as nulls
    assert staged.coercion == {"failures": {}, "samples": {}}
    assert not (tmp_path / "extract.partial").exists()


@pytest.mark.postgres
def test_sql_postgres_gives_the_same_rows_as_sqlite(sample_connections, permits_pg_conn, tmp_path):
    from_sqlite = extract_to_stage(permits_with_source(), tmp_path / "sqlite.parquet")
    from_pg = extract_to_stage(permits_with_source(conn_id="permits_pg", chunk_size=777), tmp_path / "pg.parquet")
    assert from_pg.rows == from_sqlite.rows == 4000
    # Content checksum: same rows, same order, same types, whatever the engine or chunking.
    assert from_pg.checksum == from_sqlite.checksum


def test_sql_chunks_are_logged_as_progress(sample_connections, tmp_path, caplog):
    caplog.set_level("INFO", logger="opendata.sources.stage")
    extract_to_stage(permits_with_source(), tmp_path / "extract.parquet")
    progress = [r.getMessage() for r in caplog.records if "rows so far" in r.getMessage()]
    assert len(progress) == 4
    assert progress[0].startswith("Extracted 1,000 rows so far from sql")
    assert progress[-1].startswith("Extracted 4,000 rows so far from sql")


def test_missing_connection_names_the_dataset_and_the_connection(tmp_path):
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(permits_with_source(conn_id="no_such_db"), tmp_path / "x.parquet")
    assert str(caught.value) == (
        "dataset building-permits: Airflow connection 'no_such_db' is not defined: add it in Admin > "
        "Connections or as the environment variable AIRFLOW_CONN_NO_SUCH_DB")


@pytest.mark.postgres
def test_unreachable_database(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_DEAD_DB", "postgresql://nobody:s3cret-pw@127.0.0.1:1/none")
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(permits_with_source(conn_id="dead_db"), tmp_path / "x.parquet")
    message = str(caught.value)
    assert message.startswith("dataset building-permits: cannot reach the database (connection 'dead_db'): ")
    assert "s3cret-pw" not in message


def test_query_error(sample_connections, tmp_path):
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(permits_with_source(query_file=None, query="SELECT * FROM no_such_table"),
                         tmp_path / "x.parquet")
    assert str(caught.value) == ("dataset building-permits: the query failed (connection 'permits_db'): "
                                 "no such table: no_such_table")


def test_empty_result_is_refused(sample_connections, tmp_path):
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(permits_with_source(query_file=None, query="SELECT * FROM building_permits WHERE 1 = 0"),
                         tmp_path / "x.parquet")
    assert str(caught.value) == ("dataset building-permits: the source returned no rows; refusing to stage "
                                 "an empty extract")
    assert list(tmp_path.iterdir()) == []


def test_missing_column_is_named_with_a_hint(sample_connections, tmp_path):
    query = "SELECT permit_nbr AS permit_number, * FROM building_permits"
    spec = permits_with_source(query_file=None, query=query.replace(", *", ", permit_type, permit_sub_type"))
    with pytest.raises(ExtractError) as caught:
        extract_to_stage(spec, tmp_path / "x.parquet")
    assert str(caught.value).startswith(
        "dataset building-permits: the source has no column permit_nbr (did you mean 'permit_number'?), "
        "status, issue_date")


# --- files ---------------------------------------------------------------------------------------

def test_csv_file(tmp_path):
    spec = load_catalog().get("service-requests-311").spec
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    assert staged.rows == 5000
    frame = pd.read_parquet(staged.path)
    assert frame["closed_date"].isna().sum() > 0     # open requests have no closed date
    assert frame["address"].isna().sum() == 7        # blank cells are nulls, not failures
    assert staged.coercion["failures"] == {}


def test_values_that_do_not_fit_are_counted_with_row_ids_never_values(tmp_path):
    csv = tmp_path / "requests.csv"
    original = pd.read_csv(SAMPLE_SOURCES / "service_requests_311.csv", dtype=str, nrows=50)
    original.loc[3, "council_district"] = "twelve"
    original.loc[7, "created_date"] = "31/02/2026"
    original.to_csv(csv, index=False)
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(csv)})
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    assert staged.coercion == {
        "failures": {"council_district": 1, "created_date": 1},
        "samples": {"council_district": [original.loc[3, "sr_number"]],
                    "created_date": [original.loc[7, "sr_number"]]},
    }


def test_excel_file(tmp_path):
    from openpyxl import Workbook

    rows = pd.read_csv(SAMPLE_SOURCES / "service_requests_311.csv", dtype=str, nrows=250)
    book = Workbook()
    sheet = book.active
    sheet.title = "Requests"
    sheet.append(list(rows.columns))
    for record in rows.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in record])
    path = tmp_path / "requests.xlsx"
    book.save(path)
    spec = spec_with("service-requests-311",
                     source={"kind": "file", "path": str(path), "sheet": "Requests", "chunk_size": 100})
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    assert staged.rows == 250
    assert pd.read_parquet(staged.path)["sr_number"].tolist() == rows["sr_number"].tolist()


def test_missing_file(tmp_path):
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(tmp_path / "gone.csv")})
    with pytest.raises(ExtractError, match=r"^dataset service-requests-311: source file not found: .*/gone.csv$"):
        extract_to_stage(spec, tmp_path / "x.parquet")


# --- HTTP ----------------------------------------------------------------------------------------

def test_http_json_with_paging(sample_connections, tmp_path):
    spec = load_catalog().get("restaurant-inspections").spec
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    assert staged.rows == 3000
    frame = pd.read_parquet(staged.path)
    assert frame["inspection_id"].is_unique
    assert frame["score"].max() == 150


@pytest.fixture
def static_server(monkeypatch):
    """A plain static file server over the bundled sample folder (a host the deployment allows)."""
    monkeypatch.setenv("OPENDATA_HTTP_SOURCE_HOSTS", "127.0.0.1")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(SAMPLE_SOURCES))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_csv_streams(static_server, tmp_path):
    spec = spec_with("service-requests-311",
                     source={"kind": "http", "url": f"{static_server}/service_requests_311.csv?key=abc",
                             "format": "csv", "chunk_size": 700})
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    assert staged.rows == 5000
    assert staged.checksum == extract_to_stage(load_catalog().get("service-requests-311").spec,
                                               tmp_path / "file.parquet").checksum


def test_http_json_without_paging(static_server, tmp_path):
    spec = spec_with("restaurant-inspections", source={
        "kind": "http", "url": f"{static_server}/restaurant_inspections.json", "format": "json",
        "records_path": "data"})
    assert extract_to_stage(spec, tmp_path / "extract.parquet").rows == 3000


def test_http_errors_are_named_without_query_strings(static_server, tmp_path):
    def fails(source: dict) -> str:
        spec = spec_with("restaurant-inspections", source={"kind": "http", "format": "json", **source})
        with pytest.raises(ExtractError) as caught:
            extract_to_stage(spec, tmp_path / "x.parquet")
        return str(caught.value)

    assert fails({"url": f"{static_server}/nothing.json?api_key=SECRET"}) == (
        f"dataset restaurant-inspections: HTTP 404 File not found from {static_server}/nothing.json")
    assert fails({"url": "http://127.0.0.1:1/api?api_key=SECRET"}) == (
        "dataset restaurant-inspections: cannot reach http://127.0.0.1:1/api: ConnectionError")
    assert fails({"url": f"{static_server}/restaurant_inspections.json", "records_path": "items"}) == (
        "dataset restaurant-inspections: records_path 'items': no key 'items' in the response (it has: data)")
    assert fails({"url": f"{static_server}/building_permits.csv"}) == (
        f"dataset restaurant-inspections: {static_server}/building_permits.csv did not return JSON")


def test_a_text_column_empty_in_a_whole_chunk(tmp_path):
    """pandas reads an all-empty column as float NaN; it must still stage as text."""
    rows = pd.read_csv(SAMPLE_SOURCES / "service_requests_311.csv", dtype=str, nrows=300)
    rows.loc[:199, "address"] = None          # the whole first chunk has no address
    rows.loc[:99, "closed_date"] = None
    path = tmp_path / "requests.csv"
    rows.to_csv(path, index=False)
    spec = spec_with("service-requests-311", source={"kind": "file", "path": str(path), "chunk_size": 100})
    staged = extract_to_stage(spec, tmp_path / "extract.parquet")
    frame = pd.read_parquet(staged.path)
    assert staged.rows == 300
    assert frame["address"].isna().sum() == 200
    assert frame["address"].iloc[250] == rows["address"].iloc[250]
    assert staged.coercion["failures"] == {}
