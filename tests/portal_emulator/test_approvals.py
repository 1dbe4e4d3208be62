"""Approvals workflow, permissions and catalog visibility, including the start-up switches."""

from __future__ import annotations

import pytest
import requests

from portal_emulator.testing import EmulatorError, run_emulator

from .conftest import http, make_public, new_dataset, sodapy_client

SUBMIT = {"object": "public_audience_request", "outcome": "change_audience"}


def _guidance(emu, ds, role="publisher", prefix="/api/views"):
    r = http(emu, role).get(
        f"{emu.url}{prefix}/{ds}/approvals", params={"method": "guidance_v2", "assetId": ds}
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_guidance_submit_withdraw_and_reject_with_notes(emu, client):
    ds = new_dataset(client, "Rejected one")
    g = _guidance(emu, ds)
    assert set(g) == {"public", "internal"}
    assert g["public"]["currentState"] == "submittable"
    option = g["public"]["toChangeAudience"]["queueOptions"][0]
    assert option["expectedState"] == "pending" and option["workflowId"]
    assert g["public"]["toChangeAudience"]["submission"]["object"] == "public_audience_request"

    s = http(emu)
    sub = s.post(option["submissionUrl"], json=SUBMIT)
    assert sub.status_code == 200 and sub.json()["state"] == "pending"
    g = _guidance(emu, ds, prefix="/views")  # both path prefixes serve the API
    assert g["public"]["currentState"] == "pending" and g["public"]["currentOutcome"] == "change_audience"
    # Withdraw, then submit again.
    assert s.delete(g["public"]["withdrawUrl"]).status_code == 200
    assert _guidance(emu, ds)["public"]["currentState"] == "submittable"
    s.post(f"{emu.url}/views/{ds}/approvals", params={"method": "startWorkflowSubmission"}, json=SUBMIT)
    g = _guidance(emu, ds)["public"]

    # A publisher cannot review; the reviewer can, with notes.
    assert s.put(g["updateUrl"], json={"state": "approved"}).status_code == 403
    result = emu.review(ds, "rejected", notes="Contains personal data in column X")
    assert result["state"] == "rejected"
    assert _guidance(emu, ds)["public"]["currentState"] == "rejected"
    view = client.get_metadata(ds)
    assert view["grants"] == []
    assert view["approvals"][-1]["state"] == "rejected"
    # No recording shows the reviewer or the notes: no API answer carries them, the review page does.
    for record in (result, view["approvals"][-1]):
        assert "notes" not in record and "reviewer" not in record
    assert "Contains personal data in column X" in http(emu, "reviewer").get(f"{emu.url}/review").text
    # Reviewing twice is refused.
    r = http(emu, "reviewer").put(g["updateUrl"], json={"state": "approved"})
    assert r.status_code == 409


def test_permissions_api_and_private_again(emu, client):
    ds = new_dataset(client, "Permissions")
    s = http(emu)
    perms = s.get(f"{emu.url}/api/views/{ds}/permissions").json()
    assert perms["scope"] == "private" and perms["users"][0]["accessLevels"][0]["name"] == "current_owner"
    # PUT scope public goes through the queue like setPermission.
    assert (
        s.put(f"{emu.url}/api/views/{ds}/permissions", json={"scope": "public"}).json()["scope"] == "private"
    )
    emu.review(ds, "approved", notes="fine")
    assert s.get(f"{emu.url}/api/views/{ds}/permissions").json()["scope"] == "public"
    client.set_permission(ds, "private")
    assert s.get(f"{emu.url}/api/views/{ds}/permissions").json()["scope"] == "private"
    assert client.get_metadata(ds)["grants"] == []
    # Going public again needs a new approval.
    client.set_permission(ds, "public")
    assert _guidance(emu, ds)["public"]["currentState"] == "pending"


def test_catalog_visibility_anonymous_vs_authenticated(emu, client, anon):
    private = new_dataset(client, "Catalog private", tags=["zebra"])
    public = new_dataset(client, "Catalog public", tags=["zebra"])
    make_public(emu, client, public)
    anon_ids = {r["resource"]["id"] for r in anon.datasets(tags=["zebra"])}
    assert anon_ids == {public}
    auth_ids = {r["resource"]["id"] for r in client.datasets(tags=["zebra"])}
    assert auth_ids == {public, private}

    s = http(emu)

    def ids(**params):
        r = s.get(f"{emu.url}/api/catalog/v1", params={"tags": "zebra", **params})
        assert r.status_code == 200, r.text
        return {e["resource"]["id"] for e in r.json()["results"]}

    assert ids(audience="private") == {private}
    assert ids(approval_status="approved") == {public}
    assert ids(approval_status="not_ready") == {private}
    assert ids(published="false") == {private}
    assert ids(ids=[public]) == {public}
    assert ids(q="catalog public") == {public}
    assert ids(only="dataset", categories="Housing") == {public, private}
    assert ids(domains="elsewhere.example") == set()
    owner = client.get_metadata(public)["owner"]["id"]
    assert ids(for_user=owner) == {public, private} and ids(for_user="zzzz-zzzz") == set()
    assert ids(Unknown_Param="x") == set()  # unknown parameters are custom-metadata searches
    r = s.get(f"{emu.url}/api/catalog/v1", params={"ids": public, "show_visibility": "true"}).json()
    assert r["resultSetSize"] == 1
    vis = r["results"][0]["metadata"]
    assert vis["is_public"] and vis["is_published"] and vis["visible_to_anonymous"] and not vis["is_hidden"]
    paged = s.get(f"{emu.url}/api/catalog/v1", params={"limit": 1, "offset": 1}).json()
    assert len(paged["results"]) == 1 and paged["resultSetSize"] >= 2
    bad = s.get(f"{emu.url}/api/catalog/v1", params={"limit": 10001})
    assert bad.status_code == 400 and "error" in bad.json()


def test_pending_dataset_shows_in_catalog_filter(emu, client):
    ds = new_dataset(client, "Pending in catalog")
    client.set_permission(ds, "public")
    r = http(emu).get(f"{emu.url}/api/catalog/v1", params={"approval_status": "pending"}).json()
    assert ds in {e["resource"]["id"] for e in r["results"]}
    emu.review(ds, "approved")


def test_no_approvals_makes_public_at_once(tmp_path):
    with run_emulator(tmp_path, extra_args=["--no-approvals"]) as emu, sodapy_client(emu) as client:
        ds = new_dataset(client, "Auto")
        client.set_permission(ds, "public")
        view = client.get_metadata(ds)
        assert view["grants"][0]["flags"] == ["public"]
        assert view["approvals"][-1]["reviewedAutomatically"] is True
        assert view["approvals"][-1]["state"] == "approved"
        # Public and approved, but a draft until published: anonymous callers still see nothing.
        assert requests.get(f"{emu.url}/resource/{ds}.json").status_code == 403
        client.publish(ds)
        assert len(requests.get(f"{emu.url}/resource/{ds}.json").json()) == 0


def test_approval_that_does_not_change_audience(tmp_path):
    with (
        run_emulator(tmp_path, extra_args=["--no-approval-applies-audience"]) as emu,
        sodapy_client(emu) as client,
    ):
        ds = new_dataset(client, "Approved only")
        client.set_permission(ds, "public")
        emu.review(ds, "approved", notes="ok")
        view = client.get_metadata(ds)
        assert view["approvals"][-1]["state"] == "approved" and view["grants"] == []
        assert view["approvals"][-1]["submissionOutcomeApplication"] is None
        assert _guidance(emu, ds)["public"]["currentState"] == "approved"
        # Once approved, setPermission goes through without queueing.
        client.set_permission(ds, "public")
        assert client.get_metadata(ds)["grants"][0]["flags"] == ["public"]
        with pytest.raises(EmulatorError, match="no pending approval"):
            emu.review(ds, "approved")


def test_strict_socrata_host(tmp_path):
    with run_emulator(tmp_path, extra_args=["--require-socrata-host"]) as emu, sodapy_client(emu) as client:
        ds = new_dataset(client, "Strict host")
        # sodapy sends no X-Socrata-Host: authenticated, but Discovery answers as for anonymous.
        assert client.datasets(ids=[ds]) == []
        found = http(emu).get(f"{emu.url}/api/catalog/v1", params={"ids": ds}).json()  # sends the header
        assert found["resultSetSize"] == 1


def test_catalog_domain_follows_x_socrata_host(emu, client):
    ds = new_dataset(client, "Named domain")
    s = http(emu)
    s.headers["X-Socrata-Host"] = "data.city.example"
    found = s.get(f"{emu.url}/api/catalog/v1", params={"ids": ds, "domains": "data.city.example"}).json()
    assert found["resultSetSize"] == 1
    assert found["results"][0]["metadata"]["domain"] == "data.city.example"
    meta = s.get(f"{emu.url}/api/views/metadata/v1/{ds}").json()
    assert meta["domain"] == "data.city.example"
