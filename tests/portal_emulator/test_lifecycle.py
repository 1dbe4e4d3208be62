"""End to end with plain sodapy: create private -> chunked upsert -> metadata -> approval -> public.

Every field the reference names is checked for presence and type (epoch ints in view JSON, ISO
strings with an offset in the Metadata API, ISO ``Z`` strings in Discovery).
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from .conftest import http, new_dataset, sodapy_client

VIEW_KEYS = """
    id name assetType attribution averageRating category clientContext columns createdAt description
    diciBackend displayType downloadCount flags grants hideFromCatalog hideFromDataJson locale locked metadata
    newBackend numberOfComments oid owner provenance publicationAppendEnabled publicationDate publicationGroup
    publicationStage query rights rowClass rowIdentifierColumnId rowsUpdatedAt rowsUpdatedBy tableAuthor
    tableId tags totalTimesRated viewCount viewLastModified viewType approvals attributionLink licenseId
    license indexUpdatedAt
""".split()
COLUMN_KEYS = (
    "id name dataTypeName description fieldName position renderTypeName tableColumnId cachedContents format"
)
APPROVAL_KEYS = (
    "reviewedAt reviewedAutomatically state submissionId submissionObject submissionOutcome "
    "submittedAt targetAudience workflowId submissionDetails submissionOutcomeApplication submitter"
)
ISO_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ROWS = 2500


def _rows(start: int, n: int) -> list[dict]:
    return [
        {
            "permit_id": f"P{i:05d}",
            "amount": i * 1.5,
            "issued": "2014-10-13",
            "active": i % 2 == 0,
            "site": {"type": "Point", "coordinates": [-87.6, 41.8]},
        }
        for i in range(start, start + n)
    ]


@pytest.fixture(scope="module")
def dataset(emu, client):
    ds = new_dataset(client, "Lifecycle permits")
    for start in range(0, ROWS, 1000):
        report = client.upsert(ds, _rows(start, min(1000, ROWS - start)))
        assert report["Rows Created"] == min(1000, ROWS - start)
    return ds


def test_create_returns_unpublished_private_view_with_column_ids(client):
    view = client.create(
        "Created",
        columns=[
            {"fieldName": "foo", "name": "Foo", "dataTypeName": "text"},
            {"fieldName": "bar", "name": "Bar", "dataTypeName": "number"},
        ],
        row_identifier="bar",
    )
    assert view["publicationStage"] == "unpublished"
    assert view["grants"] == []
    ids = [c["id"] for c in view["columns"]]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 2
    assert [c["position"] for c in view["columns"]] == [1, 2]
    assert [c["renderTypeName"] for c in view["columns"]] == ["text", "number"]
    # sodapy posts the field name; the portal answers with the column id.
    assert view["rowIdentifierColumnId"] == ids[1] == view["metadata"]["rowIdentifier"]


def test_lifecycle_private_to_public(emu, client, anon, dataset):
    # Private: anonymous reads are refused like the portal does.
    with pytest.raises(requests.HTTPError) as err:
        anon.get(dataset)
    assert err.value.response.status_code == 403
    assert err.value.response.json()["code"] == "authentication_required"
    assert err.value.response.json()["message"] == "You must be logged in to access this resource"
    assert len(list(client.get_all(dataset, order=":id"))) == ROWS

    meta = http(emu).patch(
        f"{emu.url}/api/views/metadata/v1/{dataset}",
        json={
            "description": "Permits issued by the city",
            "license": "Public Domain",
            "attribution": "Dept. of Buildings",
            "attributionLink": "https://example.org/buildings",
            "customFields": {"Update": {"Automation": "Yes", "Update Frequency": "Daily"}},
        },
    )
    assert meta.status_code == 200, meta.text
    client.publish(dataset)

    # setPermission public on an unapproved dataset files a request and stays private.
    response = client.set_permission(dataset, "public")
    assert response.status_code == 200 and response.text == ""
    view = client.get_metadata(dataset)
    assert view["grants"] == [] and view["approvals"][-1]["state"] == "pending"
    with pytest.raises(requests.HTTPError):
        anon.get(dataset)

    result = emu.review(dataset, "approved", notes="Looks good")
    assert result["state"] == "approved"

    view = client.get_metadata(dataset)
    assert {"inherited": False, "type": "viewer", "flags": ["public"]} in view["grants"]
    assert len(anon.get(dataset, limit=5)) == 5
    assert anon.get_metadata(dataset)["rights"] == ["read"]


def test_view_json_fields_and_types(client, dataset, emu):
    view = client.get_metadata(dataset)
    missing = [k for k in VIEW_KEYS if k not in view]
    assert not missing
    for key in ("createdAt", "publicationDate", "rowsUpdatedAt", "viewLastModified", "numberOfComments"):
        assert isinstance(view[key], int) and not isinstance(view[key], bool), key
    assert abs(view["rowsUpdatedAt"] - time.time()) < 120
    assert view["publicationStage"] == "published"
    assert view["licenseId"] == "PUBLIC_DOMAIN" and view["license"]["name"] == "Public Domain"
    assert view["attribution"] == "Dept. of Buildings"
    assert view["attributionLink"] == "https://example.org/buildings"
    assert view["category"] == "Housing" and view["tags"] == ["permits", "housing"]
    assert view["metadata"]["custom_fields"] == {"Update": {"Automation": "Yes", "Update Frequency": "Daily"}}
    for col in view["columns"]:
        assert set(COLUMN_KEYS.split()) <= set(col)
    assert [c["dataTypeName"] for c in view["columns"]] == [
        "text",
        "number",
        "calendar_date",
        "checkbox",
        "point",
    ]
    approval = view["approvals"][-1]
    assert set(approval) == set(APPROVAL_KEYS.split())  # exactly the recorded keys: no reviewer, no notes
    assert set(approval["submitter"]) == {"id", "displayName"}
    assert approval["submitter"]["displayName"] == "publisher"
    assert isinstance(approval["submittedAt"], int) and isinstance(approval["reviewedAt"], int)
    assert approval["submissionObject"] == "public_audience_request"
    assert approval["targetAudience"] == "public"
    assert approval["submissionOutcomeApplication"]["status"] == "success"


def test_metadata_api_fields_and_types(emu, dataset):
    meta = requests.get(f"{emu.url}/api/views/metadata/v1/{dataset}").json()
    for key in ("createdAt", "updatedAt", "dataUpdatedAt", "metadataUpdatedAt"):
        assert ISO_OFFSET.match(meta[key]), (key, meta[key])
    for key in (
        "id",
        "domain",
        "dataUri",
        "webUri",
        "provenance",
        "hideFromCatalog",
        "hideFromDataJson",
        "name",
        "description",
        "category",
        "tags",
        "license",
        "attribution",
        "attributionLink",
        "externalId",
        "customFields",
    ):
        assert key in meta, key
    assert meta["license"] == "Public Domain" and meta["domain"] == emu.host


def test_discovery_and_data_json_list_the_public_dataset(emu, anon, dataset):
    results = anon.datasets(ids=[dataset])
    assert len(results) == 1
    entry = results[0]
    res = entry["resource"]
    for key in (
        "id",
        "name",
        "description",
        "attribution",
        "type",
        "updatedAt",
        "createdAt",
        "metadata_updated_at",
        "data_updated_at",
        "columns_field_name",
        "columns_datatype",
    ):
        assert key in res, key
    for key in ("updatedAt", "createdAt", "metadata_updated_at", "data_updated_at"):
        assert ISO_Z.match(res[key]), key
    assert res["columns_field_name"] == ["permit_id", "amount", "issued", "active", "site"]
    assert set(entry) >= {"resource", "classification", "metadata", "permalink", "link", "owner"}
    assert entry["classification"]["domain_metadata"] == [
        {"key": "Update_Automation", "value": "Yes"},
        {"key": "Update_Update-Frequency", "value": "Daily"},
    ]
    assert entry["metadata"]["domain"] == emu.host

    catalog = requests.get(f"{emu.url}/data.json").json()
    assert set(catalog) >= {"@context", "@id", "@type", "conformsTo", "describedBy", "dataset"}
    entry = next(d for d in catalog["dataset"] if d["identifier"].endswith(dataset))
    for key in (
        "issued",
        "modified",
        "keyword",
        "@type",
        "landingPage",
        "theme",
        "title",
        "accessLevel",
        "distribution",
        "description",
        "identifier",
        "publisher",
        "contactPoint",
        "license",
    ):
        assert key in entry, key
    download = requests.get(entry["distribution"][0]["downloadURL"])
    assert download.status_code == 200 and len(download.text.strip().splitlines()) == ROWS + 1


def test_plain_sodapy_reads(emu, anon, dataset):
    rows = anon.get(dataset, order="amount DESC", limit=2, select="permit_id, amount")
    assert rows == [{"permit_id": "P02499", "amount": "3748.5"}, {"permit_id": "P02498", "amount": "3747"}]
    row = anon.get(dataset, permit_id="P00002")[0]
    assert row == {
        "permit_id": "P00002",
        "amount": "3",
        "issued": "2014-10-13T00:00:00.000",
        "active": True,
        "site": {"type": "Point", "coordinates": [-87.6, 41.8]},
    }
    csv_rows = anon.get(dataset, content_type="csv", where="permit_id = 'P00001'")
    assert csv_rows == [
        ["permit_id", "amount", "issued", "active", "site"],
        ["P00001", "1.5", "2014-10-13T00:00:00.000", "false", "POINT (-87.6 41.8)"],
    ]
    with sodapy_client(emu, "publisher") as c:
        assert len(c.datasets()) >= 2  # authenticated: private datasets too
