"""Metadata API v1 (customFields semantics, validateOnly, timestamps), view PUT, licenses, admin fixtures."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from .conftest import http, make_public, new_dataset


def _patch(emu, ds, body, **params):
    return http(emu).patch(f"{emu.url}/api/views/metadata/v1/{ds}", json=body, params=params)


def _meta(emu, ds):
    return http(emu).get(f"{emu.url}/api/views/metadata/v1/{ds}").json()


def test_custom_fields_null_semantics(emu, client):
    ds = new_dataset(client, "Custom fields")
    r = _patch(
        emu,
        ds,
        {"customFields": {"Update": {"Automation": "Yes", "Frequency": "Daily"}, "Owner": {"Agency": "DOT"}}},
    )
    assert r.status_code == 200 and r.json()["customFields"] == {
        "Update": {"Automation": "Yes", "Frequency": "Daily"},
        "Owner": {"Agency": "DOT"},
    }
    # Fields merge; a null field clears that field only.
    r = _patch(emu, ds, {"customFields": {"Update": {"Frequency": None, "Notes": "x"}}})
    assert r.json()["customFields"] == {
        "Update": {"Automation": "Yes", "Notes": "x"},
        "Owner": {"Agency": "DOT"},
    }
    # A null fieldset wipes that fieldset.
    assert _patch(emu, ds, {"customFields": {"Owner": None}}).json()["customFields"] == {
        "Update": {"Automation": "Yes", "Notes": "x"}
    }
    # customFields: null wipes them all; view JSON agrees.
    assert _patch(emu, ds, {"customFields": None}).json()["customFields"] == {}
    assert "custom_fields" not in client.get_metadata(ds)["metadata"]


def test_patch_writable_fields_validation_and_validate_only(emu, client):
    ds = new_dataset(client, "Writable")
    before = _meta(emu, ds)
    r = _patch(emu, ds, {"name": "Renamed", "license": "Public Domain"}, validateOnly="true")
    assert r.status_code == 200 and r.json()["valid"] is True
    assert _meta(emu, ds)["name"] == before["name"]  # nothing applied

    bad = _patch(emu, ds, {"license": "No Such License", "tags": "not-a-list"}, validateOnly="true").json()
    assert bad["valid"] is False and {e["field"] for e in bad["errors"]} == {"license", "tags"}
    r = _patch(emu, ds, {"license": "No Such License"})
    assert r.status_code == 400 and r.json()["error"] is True

    body = {
        "name": "Renamed",
        "description": "d",
        "category": "Transportation",
        "tags": ["a", "b"],
        "license": "CC0_10",
        "attribution": "City",
        "attributionLink": "https://city.example",
        "externalId": "ext-1",
        "dataUpdatedAt": "2000-01-01T00:00:00+00:00",
    }
    r = _patch(emu, ds, body)
    assert r.status_code == 200
    meta = r.json()
    assert meta["name"] == "Renamed" and meta["tags"] == ["a", "b"] and meta["externalId"] == "ext-1"
    assert meta["license"] == "Creative Commons 1.0 Universal (Public Domain Dedication)"
    assert meta["dataUpdatedAt"] != "2000-01-01T00:00:00+00:00"  # read-only: ignored
    assert _patch(emu, ds, {"dataUpdatedAt": "2000-01-01T00:00:00+00:00"}, strict="true").status_code == 400
    view = client.get_metadata(ds)
    assert view["licenseId"] == "CC0_10" and view["category"] == "Transportation"


def test_data_timestamps_move_only_with_rows(emu, client):
    ds = new_dataset(client, "Timestamps")
    old = datetime(2020, 1, 1, tzinfo=UTC)
    emu.set_timestamps(ds, data_updated_at=old, metadata_updated_at=old)
    meta = _meta(emu, ds)
    assert meta["dataUpdatedAt"] == meta["metadataUpdatedAt"] == "2020-01-01T00:00:00+00:00"
    assert client.get_metadata(ds)["rowsUpdatedAt"] == int(old.timestamp())

    _patch(emu, ds, {"description": "metadata only"})
    meta = _meta(emu, ds)
    assert meta["dataUpdatedAt"] == "2020-01-01T00:00:00+00:00"
    assert meta["metadataUpdatedAt"] > "2020"
    assert client.get_metadata(ds)["viewLastModified"] > int(time.time()) - 60

    client.upsert(ds, [{"permit_id": "A"}])
    assert _meta(emu, ds)["dataUpdatedAt"] > "2021"
    # An upsert that changes nothing leaves the data timestamp alone.
    emu.set_timestamps(ds, data_updated_at=old)
    client.upsert(ds, [{"permit_id": "A"}])
    assert _meta(emu, ds)["dataUpdatedAt"] == "2020-01-01T00:00:00+00:00"


def test_update_metadata_replaces_top_level_keys(client):
    ds = new_dataset(client, "PUT views")
    view = client.update_metadata(
        ds, {"description": "new", "tags": ["x"], "metadata": {"custom_fields": {"A": {"B": "C"}}}}
    )
    assert view["description"] == "new" and view["tags"] == ["x"]
    assert view["metadata"]["custom_fields"] == {"A": {"B": "C"}}
    # The row identifier survives a metadata replace (it lives in rowIdentifierColumnId).
    assert view["metadata"]["rowIdentifier"] == view["rowIdentifierColumnId"]
    columns = view["columns"]
    columns[1]["description"] = "Amount in dollars"
    view = client.update_metadata(
        ds, {"columns": columns + [{"fieldName": "extra", "name": "Extra", "dataTypeName": "text"}]}
    )
    assert view["columns"][1]["description"] == "Amount in dollars"
    assert [c["fieldName"] for c in view["columns"]][-1] == "extra" and view["columns"][-1]["position"] == 6
    client.upsert(ds, [{"permit_id": "A", "extra": "yes"}])
    assert client.get(ds)[0]["extra"] == "yes"


def test_row_identifier_can_be_set_later(client):
    ds = new_dataset(client, "Late row id", row_identifier=None)
    client.upsert(ds, [{"permit_id": "A", "amount": 1}])
    column_id = client.get_metadata(ds)["columns"][0]["id"]
    assert (
        client.update_metadata(ds, {"rowIdentifierColumnId": column_id})["rowIdentifierColumnId"] == column_id
    )
    report = client.upsert(ds, [{"permit_id": "A", "amount": 2}])
    assert report["Rows Updated"] == 1 and report["Rows Created"] == 0


def test_metadata_list_licenses_comments_and_anonymous_access(emu, client, anon):
    public = new_dataset(client, "Listed public")
    private = new_dataset(client, "Listed private")
    make_public(emu, client, public)
    anon_ids = {m["id"] for m in http(emu, None).get(f"{emu.url}/api/views/metadata/v1").json()}
    assert public in anon_ids and private not in anon_ids
    page = http(emu).get(f"{emu.url}/api/views/metadata/v1", params={"limit": 1, "page": 2}).json()
    assert len(page) == 1
    assert http(emu, None).get(f"{emu.url}/api/views/metadata/v1/{private}").status_code == 403
    missing = http(emu).get(f"{emu.url}/api/views/metadata/v1/zzzz-zzzz")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"

    helped = http(emu, None).get(f"{emu.url}/api/views/metadata/v1", params={"method": "help"}).json()
    assert "customFields" in helped["writableFields"]
    licenses = http(emu, None).get(f"{emu.url}/api/licenses").json()
    assert {
        "PUBLIC_DOMAIN",
        "USGOV_WORKS",
        "CC0_10",
        "CC_30_BY",
        "PDDL",
        "UK_OGLV3.0",
        "SEE_TERMS_OF_USE",
    } <= {lic["id"] for lic in licenses}
    assert set(licenses[0]) == {"id", "name", "termsLink", "logoUrl"}

    emu.set_comments(public, 3)
    assert anon.get_metadata(public)["numberOfComments"] == 3
    with pytest.raises(requests.HTTPError, match="403"):
        anon.get_metadata(private)
