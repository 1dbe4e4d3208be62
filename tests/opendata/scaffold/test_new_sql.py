"""`opendata new --sql` against real PostgreSQL tables (database ``test``, a table per test)."""

from __future__ import annotations

import pytest

from opendata.cli import main
from tests.opendata.scaffold.conftest import column, load

pytestmark = pytest.mark.postgres

REQUESTS = """
CREATE TABLE {table} (
    request_id integer PRIMARY KEY,
    request_type text NOT NULL,
    contact_email varchar(120),
    created_date date NOT NULL,
    amount numeric(10, 2),
    is_open boolean,
    updated_at timestamp NOT NULL
);
COMMENT ON TABLE {table} IS 'Service requests made to the city: what was asked for, when, and whether it is open.';
COMMENT ON COLUMN {table}.request_id IS 'Unique number of the request.';
COMMENT ON COLUMN {table}.request_type IS 'What was requested, for example Bulky Items.';
INSERT INTO {table}
SELECT g, 'Bulky Items', CASE WHEN mod(g, 13) = 0 THEN NULL ELSE 'resident' || g || '@example.org' END,
       DATE '2024-03-01' + g, g * 10.5, mod(g, 2) = 0, TIMESTAMP '2025-01-01 00:00' + g * INTERVAL '1 hour'
FROM generate_series(1, 40) AS g;
"""


def test_a_table_with_a_key_comments_updated_at_and_emails(pg_table, pg_conn, include_dir, capsys):
    table = pg_table(REQUESTS)
    code = main(["new", "service-requests", "--department", "sanitation", "--sql", pg_conn, table,
                 "--include", str(include_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    path = include_dir / "datasets" / "sanitation" / "service-requests.yaml"
    data = load(path)
    assert [(c["field_name"], c["type"]) for c in data["columns"]] == [
        ("request_id", "number"), ("request_type", "text"), ("contact_email", "text"),
        ("created_date", "floating_timestamp"), ("amount", "number"), ("is_open", "checkbox"),
        ("updated_at", "floating_timestamp")]
    assert data["publishing"]["row_identifier"] == "request_id"
    assert data["source"] == {"kind": "sql", "conn_id": pg_conn, "watermark": "updated_at", "query": (
        "SELECT request_id,\n       request_type,\n       contact_email,\n       created_date,\n       amount,\n"
        f"       is_open,\n       updated_at\nFROM {table}")}
    # The e-mail addresses: allowed only once a person writes why (the TODO), with the kind found.
    allowed = data["privacy"]["allowed"]
    assert list(allowed) == ["contact_email"] and allowed["contact_email"]["kinds"] == ["email"]
    assert allowed["contact_email"]["justification"].startswith("TODO: say why publishing the e-mail addresses")
    text = path.read_text()
    assert "# suggested: values look like e-mail addresses (37 of 37 sampled); the column name says" in text
    assert "resident1@example.org" not in text  # counts, never values
    # Descriptions from the comments; a TODO where there is none.
    assert data["description"] == ("Service requests made to the city: what was asked for, when, and whether it is "
                                   "open.")
    assert column(data, "request_id")["description"] == "Unique number of the request."
    assert column(data, "request_type")["description"] == "What was requested, for example Bulky Items."
    assert column(data, "amount")["description"].startswith("TODO: describe amount in plain English")
    # The department's people, the coverage from the sample, the connection without credentials.
    assert data["coordinator"] == "samuel-okafor" and data["steward"]["name"] == "Samuel Okafor"
    assert data["publishing"]["attribution"] == "City of Los Angeles, LA Sanitation and Environment"
    assert str(data["coverage"]["start_date"]) == "2024-03-02"
    assert data["source_system"] == "PostgreSQL database test on 127.0.0.1"
    # The summary: where, what was decided, each TODO with its line, what to run next.
    assert out.startswith(f"Wrote {path}\n")
    assert "  row identifier: request_id\n  watermark: updated_at\n" in out
    assert "    contact_email: values look like e-mail addresses (37 of 37 sampled)" in out
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines, 1) if line.startswith("      justification:"))
    assert f"  {path}:{at}: privacy.allowed.contact_email.justification: TODO: say why" in out
    assert out.rstrip().endswith(f"opendata lint --include {include_dir}\n"
                                 f"  opendata check service-requests --include {include_dir}")


def test_an_integer_key_is_the_watermark_without_an_updated_at_column(pg_table, pg_conn, include_dir):
    table = pg_table("CREATE TABLE {table} (id bigint PRIMARY KEY, label text);"
                     "INSERT INTO {table} SELECT g, 'x' || g FROM generate_series(1, 5) g")
    assert main(["new", "labels", "--department", "sanitation", "--sql", pg_conn, table,
                 "--include", str(include_dir)]) == 0
    data = load(include_dir / "datasets" / "sanitation" / "labels.yaml")
    assert data["source"]["watermark"] == "id" and data["publishing"]["row_identifier"] == "id"
    text = (include_dir / "datasets" / "sanitation" / "labels.yaml").read_text()
    assert "It finds new rows only" in text


def test_a_query_is_sampled_and_written_as_is(pg_table, pg_conn, include_dir):
    table = pg_table(REQUESTS)
    query = f"SELECT request_id, amount, updated_at\nFROM {table}\nWHERE is_open"
    assert main(["new", "open-requests", "--department", "sanitation", "--sql", pg_conn, query,
                 "--include", str(include_dir), "--sample-rows", "5"]) == 0
    data = load(include_dir / "datasets" / "sanitation" / "open-requests.yaml")
    assert data["source"]["query"] == query
    assert [(c["field_name"], c["type"]) for c in data["columns"]] == [
        ("request_id", "number"), ("amount", "number"), ("updated_at", "floating_timestamp")]
    assert data["source"]["watermark"] == "updated_at"
    # No declared key: an id-like, unique column of the sample, said to be inferred.
    assert data["publishing"]["row_identifier"] == "request_id"
    assert "inferred from a sample" in (include_dir / "datasets" / "sanitation" / "open-requests.yaml").read_text()


def test_hostile_column_names_and_huge_values(pg_table, pg_conn, include_dir):
    table = pg_table('CREATE TABLE {table} ("Full Name" text, "it\'s ""quoted""" text, "Straße" text, '
                     '"select" text, "Total" integer, "total" integer, "TOTAL!" integer, "2024 amount" numeric, '
                     '"big" text);'
                     "INSERT INTO {table} VALUES ('Ann Lee', 'q', 's', 'k', 1, 2, 3, 4.5, repeat('x', 5000000))")
    assert main(["new", "odd-names", "--department", "sanitation", "--sql", pg_conn, table,
                 "--include", str(include_dir)]) == 0
    data = load(include_dir / "datasets" / "sanitation" / "odd-names.yaml")
    assert [(c["field_name"], c.get("source_column")) for c in data["columns"]] == [
        ("full_name", "Full Name"), ("its_quoted", 'it\'s "quoted"'), ("strasse", "Straße"), ("select", None),
        ("total", "Total"), ("total_2", "total"), ("total_3", "TOTAL!"), ("c_2024_amount", "2024 amount"),
        ("big", None)]
    assert '"it\'s ""quoted"""' in data["source"]["query"] and '"select"' in data["source"]["query"]
    assert data["privacy"]["allowed"]["full_name"]["kinds"] == ["person_name"]
    assert (include_dir / "datasets" / "sanitation" / "odd-names.yaml").stat().st_size < 20_000


def test_a_thousand_columns(pg_table, pg_conn, include_dir):
    columns = ", ".join(f"c{i} integer" for i in range(1000))
    table = pg_table(f"CREATE TABLE {{table}} (id integer PRIMARY KEY, {columns});"
                     f"INSERT INTO {{table}} (id) SELECT g FROM generate_series(1, 3) g")
    assert main(["new", "wide", "--department", "sanitation", "--sql", pg_conn, table,
                 "--include", str(include_dir)]) == 0
    data = load(include_dir / "datasets" / "sanitation" / "wide.yaml")
    assert len(data["columns"]) == 1001 and data["columns"][-1]["field_name"] == "c999"
