"""SODA2 row semantics: upsert report, :deleted, replace, row identifiers, paging, CSV, SoQL, headers."""

from __future__ import annotations

import io
import json

import pytest
import requests

from .conftest import http, new_dataset

REPORT_KEYS = {"Rows Created", "Rows Updated", "Rows Deleted", "Errors", "By RowIdentifier", "By SID"}


def _report(created=0, updated=0, deleted=0, errors=0):
    return {"Rows Created": created, "Rows Updated": updated, "Rows Deleted": deleted, "Errors": errors}


def _counts(report):
    return {k: report[k] for k in ("Rows Created", "Rows Updated", "Rows Deleted", "Errors")}


def test_upsert_report_and_deleted_rows_are_idempotent(client):
    ds = new_dataset(client, "Upsert report")
    first = client.upsert(ds, [{"permit_id": "A", "amount": 1}, {"permit_id": "B", "amount": 2}])
    assert set(first) == REPORT_KEYS and _counts(first) == _report(created=2)
    batch = [
        {"permit_id": "A", "amount": 10},
        {"permit_id": "B", ":deleted": True},
        {"permit_id": "C", "amount": 3},
    ]
    assert _counts(client.upsert(ds, batch)) == _report(created=1, updated=1, deleted=1)
    # The documented retry: the deleted row is already gone (an error), the others update.
    retry = client.upsert(ds, batch)
    assert _counts(retry) == _report(updated=2, errors=1)
    assert retry["By RowIdentifier"] == 2
    assert sorted(r["permit_id"] for r in client.get(ds)) == ["A", "C"]
    assert client.get(ds, permit_id="A")[0]["amount"] == "10"


def test_partial_upsert_keeps_other_fields_and_null_clears(client):
    ds = new_dataset(client, "Partial")
    client.upsert(ds, [{"permit_id": "A", "amount": 1, "active": True}])
    client.upsert(ds, [{"permit_id": "A", "amount": 2}])
    assert client.get(ds) == [{"permit_id": "A", "amount": "2", "active": True}]
    client.upsert(ds, [{"permit_id": "A", "active": None}])
    assert client.get(ds) == [{"permit_id": "A", "amount": "2"}]


def test_without_row_identifier_rows_append_and_match_on_id(client):
    ds = new_dataset(client, "Appends", row_identifier=None)
    assert _counts(client.upsert(ds, [{"permit_id": "A"}, {"permit_id": "A"}])) == _report(created=2)
    rows = client.get(ds, select=":id, permit_id", order=":id")
    assert all(r[":id"].startswith("row-") and len(r[":id"]) == 18 for r in rows)
    report = client.upsert(
        ds, [{":id": rows[0][":id"], "permit_id": "Z"}, {":id": rows[1][":id"], ":deleted": True}]
    )
    assert _counts(report) == _report(updated=1, deleted=1) and report["By SID"] == 2
    assert client.get(ds) == [{"permit_id": "Z"}]
    assert _counts(client.upsert(ds, [{":id": "row-2222-2222-2222", "permit_id": "Q"}])) == _report(errors=1)


def test_bad_values_count_as_errors_and_unknown_columns_are_refused(client):
    ds = new_dataset(client, "Validation")
    report = client.upsert(
        ds,
        [
            {"permit_id": "A", "amount": "12.50"},
            {"permit_id": "B", "amount": "lots"},
            {"permit_id": "C", "active": "maybe"},
            {"permit_id": "D", "issued": "not a date"},
            {"amount": 5},
        ],
    )
    assert _counts(report) == _report(created=1, errors=4)
    assert client.get(ds) == [{"permit_id": "A", "amount": "12.5"}]
    with pytest.raises(requests.HTTPError) as err:
        client.upsert(ds, [{"permit_id": "A", "colour": "red"}])
    assert err.value.response.status_code == 400


def test_replace_replaces_everything(client):
    ds = new_dataset(client, "Replace")
    client.upsert(ds, [{"permit_id": str(i)} for i in range(5)])
    report = client.replace(ds, [{"permit_id": "new-1"}, {"permit_id": "new-2"}])
    assert _counts(report) == _report(created=2)
    assert sorted(r["permit_id"] for r in client.get(ds)) == ["new-1", "new-2"]


def test_csv_upsert_with_deleted_column_and_empty_cells_as_null(client):
    ds = new_dataset(client, "CSV")
    client.upsert(ds, [{"permit_id": "A", "amount": 1, "active": True}, {"permit_id": "B", "amount": 2}])
    body = io.StringIO("permit_id,amount,active,:deleted\nA,,true,false\nB,,,true\nC,7.25,false,false\n")
    report = client.upsert(ds, body)
    assert _counts(report) == _report(created=1, updated=1, deleted=1)
    assert client.get(ds, order="permit_id") == [
        {"permit_id": "A", "active": True},
        {"permit_id": "C", "amount": "7.25", "active": False},
    ]
    # A CSV replace through sodapy's file path.
    assert _counts(client.replace(ds, io.StringIO("permit_id,issued\nX,2020-01-31\n"))) == _report(created=1)
    assert client.get(ds) == [{"permit_id": "X", "issued": "2020-01-31T00:00:00.000"}]


def test_paging_with_order_id_returns_every_row_once(emu, client):
    ds = new_dataset(client, "Paging")
    total = 5300
    for start in range(0, total, 2000):
        client.upsert(
            ds, [{"permit_id": f"P{i}", "amount": i} for i in range(start, min(start + 2000, total))]
        )
    # Updates in between must not move rows between pages.
    client.upsert(ds, [{"permit_id": "P5", "amount": -1}])
    seen = [r["permit_id"] for r in client.get_all(ds, order=":id", limit=1000)]
    assert len(seen) == total and len(set(seen)) == total
    ids = [r[":id"] for r in client.get_all(ds, order=":id", select=":id", limit=2500)]
    assert ids == sorted(ids) and len(set(ids)) == total
    r = http(emu).get(f"{emu.url}/resource/{ds}.json", params={"$select": "count(*)"})
    assert r.json() == [{"count": str(total)}]


def test_soql_where_order_select_and_limits(emu, client):
    ds = new_dataset(client, "SoQL")
    client.upsert(
        ds,
        [
            {"permit_id": "A", "amount": 5, "issued": "2020-01-01", "active": True},
            {"permit_id": "B", "amount": 15, "issued": "2021-06-01", "active": False},
            {"permit_id": "C", "amount": 25},
            {"permit_id": "D's", "amount": 100, "issued": "2022-01-01T12:30:00"},
        ],
    )

    def ids(**kw):
        return [r["permit_id"] for r in client.get(ds, order="permit_id", **kw)]

    assert ids(where="amount >= 15 AND amount < 100") == ["B", "C"]
    assert ids(where="amount = 5 OR permit_id = 'D''s'") == ["A", "D's"]
    assert ids(where="issued IS NULL") == ["C"]
    assert ids(where="issued IS NOT NULL AND issued > '2020-06-01'") == ["B", "D's"]
    assert ids(where="active = true") == ["A"]
    assert ids(where="amount != 5 AND (permit_id = 'B' OR permit_id = 'C')") == ["B", "C"]
    assert ids(where="permit_id IN ('A', 'C')") == ["A", "C"]
    assert ids(amount="15") == ["B"]
    assert [r["permit_id"] for r in client.get(ds, order="amount DESC", limit=2, offset=1)] == ["C", "B"]
    rows = client.get(ds, select=":*,*", where="permit_id = 'A'")
    assert set(rows[0]) == {":id", ":created_at", ":updated_at", "permit_id", "amount", "issued", "active"}
    assert client.get(ds, select="permit_id AS p", where="permit_id='A'") == [{"p": "A"}]
    assert client.get(ds, where="permit_id='A'", exclude_system_fields="false")[0][":id"].startswith("row-")

    s = http(emu)
    for params, code in (
        ({"$where": "amount >"}, "query.compiler.malformed"),
        ({"$where": "nope = 1"}, "query.soql.no-such-column"),
        ({"$order": "nope"}, "query.soql.no-such-column"),
        ({"$limit": "50001"}, "query.compiler.malformed"),
        ({"$limit": "-1"}, "query.compiler.malformed"),
        ({"$group": "amount"}, "query.compiler.malformed"),
        ({"$where": "starts_with(permit_id, 'A')"}, "query.compiler.malformed"),
    ):
        r = s.get(f"{emu.url}/resource/{ds}.json", params=params)
        assert r.status_code == 400 and r.json()["code"] == code, params
        assert r.json()["error"] is True and r.headers["X-Error-Code"] == code


def test_response_headers(emu, client):
    ds = new_dataset(client, "Headers")
    client.upsert(ds, [{"permit_id": "A", "amount": 1}])
    r = http(emu).get(f"{emu.url}/resource/{ds}.json")
    assert r.headers["X-Socrata-RequestId"]
    assert json.loads(r.headers["X-SODA2-Fields"]) == ["permit_id", "amount", "issued", "active", "site"]
    assert json.loads(r.headers["X-SODA2-Types"]) == [
        "text",
        "number",
        "floating_timestamp",
        "checkbox",
        "point",
    ]
    assert r.headers["Last-Modified"].endswith("GMT")
    assert r.headers["Content-Type"].startswith("application/json")
    csv = http(emu).get(f"{emu.url}/resource/{ds}.csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == '"permit_id","amount","issued","active","site"'
    missing = requests.get(f"{emu.url}/resource/zzzz-zzzz.json")
    assert missing.status_code == 404 and missing.json()["code"] == "dataset.missing"
    assert missing.headers["X-Socrata-RequestId"] and missing.headers["X-Error-Code"] == "dataset.missing"


def test_single_row_read_and_delete(emu, client):
    ds = new_dataset(client, "Single rows")
    client.upsert(ds, [{"permit_id": "A", "amount": 1}, {"permit_id": "B", "amount": 2}])
    s = http(emu)
    assert s.get(f"{emu.url}/resource/{ds}/A.json").json() == {"permit_id": "A", "amount": "1"}
    row_id = client.get(ds, select=":id", permit_id="B")[0][":id"]
    assert client.delete(ds, row_id=row_id) == [{"typ": "delete", "id": row_id}]
    assert s.delete(f"{emu.url}/resource/{ds}/A.json").status_code == 200
    assert client.get(ds) == []
    assert s.delete(f"{emu.url}/resource/{ds}/A.json").status_code == 404


def test_writes_need_credentials(emu, anon, client):
    ds = new_dataset(client, "Auth")
    with pytest.raises(requests.HTTPError) as err:
        anon.upsert(ds, [{"permit_id": "A"}])
    assert err.value.response.status_code == 403
    bad = requests.post(
        f"{emu.url}/resource/{ds}.json", json=[{"permit_id": "A"}], auth=("publisher", "wrong")
    )
    assert bad.status_code == 401 and bad.json()["error"] is True
    unknown = requests.get(f"{emu.url}/api/views/{ds}.json", auth=("nobody", "x"))
    assert unknown.status_code == 401
    # Dataset deletion is deliberately disabled.
    with pytest.raises(requests.HTTPError) as err:
        client.delete(ds)
    assert err.value.response.status_code == 403
    assert "disabled" in err.value.response.json()["message"]


def test_malformed_bodies_are_refused(emu, client):
    ds = new_dataset(client, "Malformed")
    s = http(emu)
    for body in (b"{not json", b'"a string"', b"42"):
        r = s.post(f"{emu.url}/resource/{ds}.json", data=body)
        assert r.status_code == 400 and r.json()["code"] == "json.malformed", body
    gz = s.post(f"{emu.url}/resource/{ds}.json", data=b"x", headers={"Content-Encoding": "gzip"})
    assert gz.status_code == 415
    r = s.post(f"{emu.url}/api/views.json", data=b"[1, 2")
    assert r.status_code == 400 and r.json()["error"] is True
    r = s.post(
        f"{emu.url}/api/views.json",
        json={"name": "x", "columns": [{"fieldName": "a", "dataTypeName": "blob"}]},
    )
    assert r.status_code == 400 and "dataTypeName" in r.json()["message"]


def test_bad_credentials_are_refused_before_the_dataset_is_looked_up(emu):
    wrong = ("publisher", "not-the-password")
    for path in ["/resource/zzzz-9999.json", "/api/views/zzzz-9999.json", "/api/views/metadata/v1/zzzz-9999"]:
        response = requests.get(emu.url + path, auth=wrong, timeout=10)
        assert response.status_code == 401, path
        assert response.json()["code"] == "invalid_credentials"
    # With good credentials the same paths are plain "not found".
    response = requests.get(emu.url + "/resource/zzzz-9999.json", auth=emu.auth("publisher"), timeout=10)
    assert (response.status_code, response.json()["code"]) == (404, "dataset.missing")
