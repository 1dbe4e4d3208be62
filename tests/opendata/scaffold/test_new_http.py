"""`opendata new --http` against a real local JSON API."""

from __future__ import annotations

import json

import pytest

from opendata.scaffold import introspect_http
from opendata.scaffold.command import NewRequest, run_new
from opendata.scaffold.errors import ScaffoldError
from tests.opendata.scaffold.conftest import json_route, load

RECORDS = [{"inspection_id": f"DAJ{i:08d}", "facility_name": f"Cafe {i}", "owner_email": f"owner{i}@example.org",
            "score": 80 + i % 20, "inspected_at": f"2025-03-{i % 28 + 1:02d}T10:15:00", "passed": i % 4 != 0,
            "location": {"lat": 34.05, "lon": -118.25}} for i in range(1, 41)]


def _new(include_dir, url, records_path=None, dataset_id="inspections") -> dict:
    run_new(NewRequest(dataset_id=dataset_id, department="environmental-health", include_dir=include_dir, http=url,
                       records_path=records_path))
    return load(include_dir / "datasets" / "environmental-health" / f"{dataset_id}.yaml")


def test_a_json_api_with_a_records_path(include_dir, json_api):
    base, routes = json_api
    routes["/api/v1/inspections"] = json_route({"data": {"items": RECORDS}, "meta": {"version": 2}})
    data = _new(include_dir, f"{base}/api/v1/inspections", "data.items")
    assert [(c["field_name"], c["type"]) for c in data["columns"]] == [
        ("inspection_id", "text"), ("facility_name", "text"), ("owner_email", "text"), ("score", "number"),
        ("inspected_at", "floating_timestamp"), ("passed", "checkbox"), ("location", "text")]
    assert data["source"] == {"kind": "http", "url": f"{base}/api/v1/inspections", "format": "json",
                              "records_path": "data.items"}
    assert data["publishing"]["row_identifier"] == "inspection_id"
    assert data["privacy"]["allowed"]["owner_email"]["kinds"] == ["email"]
    assert data["source_system"] == "JSON API at 127.0.0.1"
    assert data["name"] == "Inspections"
    assert data["coordinator"] == "kevin-nguyen"
    # The department's other files name a portal category; this one has none to copy: a TODO.
    assert data["publishing"]["category"].startswith("TODO: the portal category")
    text = (include_dir / "datasets" / "environmental-health" / "inspections.yaml").read_text()
    assert "nested values (JSON objects or lists): published as their text" in " ".join(text.split())


def test_the_one_list_of_records_is_found_without_a_path_and_paging_is_noticed(include_dir, json_api):
    base, routes = json_api
    routes["/records"] = json_route({"results": RECORDS[:10], "total": 40})
    data = _new(include_dir, f"{base}/records?limit=10")
    assert data["source"]["records_path"] == "results"
    text = " ".join((include_dir / "datasets" / "environmental-health" / "inspections.yaml").read_text().split())
    assert "Drafted by" in text
    profile = introspect_http.profile_http(f"{base}/records?limit=10", None, 100)
    assert any("the API seems to page its records (the body says 40 records; this answer held 10)" in note
               for note in profile.notes)


def test_the_department_category_is_reused(include_dir, json_api):
    base, routes = json_api
    routes["/x"] = json_route(RECORDS[:5])
    other = include_dir / "datasets" / "environmental-health" / "pools.yaml"
    other.parent.mkdir(parents=True)
    other.write_text("id: pools\npublishing:\n  category: Health\n  tags: [pools]\n")
    data = _new(include_dir, f"{base}/x")
    assert data["publishing"]["category"] == "Health"
    assert "records_path" not in data["source"]


@pytest.mark.parametrize(("route", "records_path", "message"), [
    ("/missing", None, r"HTTP 404 Not Found from http://127\.0\.0\.1:\d+/missing"),
    ("/html", None, r"did not return JSON \(Content-Type text/html; the body starts '<!DOCTYPE html><html>"),
    ("/nested", "data.itemz", r"records path 'data.itemz': no key 'itemz' in data \(it has: items, count\) "
                              r"\(did you mean 'items'\?\)"),
    ("/nested", "data.count", r"records path 'data.count' is a number, not a list of records"),
    ("/nested", "data", r"records path 'data' is an object with keys items, count, not a list of records"),
    ("/two", None, r"the body is not a list of records; give --records-path \(lists of records at: a, b\)"),
    ("/strings", None, r"records path '\(the body\)' is a list of strings, not of records"),
])
def test_what_is_not_a_list_of_records_is_named(include_dir, json_api, route, records_path, message):
    base, routes = json_api
    routes["/html"] = lambda: (200, "text/html", b"<!DOCTYPE html><html><body>Sign in</body></html>")
    routes["/nested"] = json_route({"data": {"items": RECORDS, "count": 40}})
    routes["/two"] = json_route({"a": RECORDS, "b": RECORDS})
    routes["/strings"] = json_route(["a", "b"])
    with pytest.raises(ScaffoldError, match=message):
        _new(include_dir, f"{base}{route}", records_path)


def test_a_huge_body_is_not_read_whole(include_dir, json_api, monkeypatch):
    base, routes = json_api
    monkeypatch.setattr(introspect_http, "MAX_BODY_BYTES", 1024 * 1024)
    big = json.dumps([{"text": "x" * 1000}] * 3000).encode()
    routes["/big"] = lambda: (200, "application/json", big)
    with pytest.raises(ScaffoldError, match=r"answered more than 1 MiB; give a URL that returns one page"):
        _new(include_dir, f"{base}/big")


@pytest.mark.parametrize(("url", "message"), [
    ("http://user:secret@127.0.0.1:9/x", "must not carry credentials"),
    ("ftp://127.0.0.1/x", "must be an http:// or https:// address"),
    ("http://127.0.0.1:9/x", r"cannot reach http://127\.0\.0\.1:9/x \(ConnectionError\)"),
])
def test_urls_refused_or_unreachable(include_dir, url, message):
    with pytest.raises(ScaffoldError, match=message) as caught:
        _new(include_dir, url)
    assert "secret" not in str(caught.value)
