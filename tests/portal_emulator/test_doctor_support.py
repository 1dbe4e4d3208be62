"""What `opendata portal doctor` reads from a portal, as the emulator answers it: who am I, the
domain's category counts, and the Metadata API's dry run against the domain's categories and
custom fieldsets (``--categories``, ``--fieldsets``)."""

from __future__ import annotations

import pytest

from portal_emulator.cli import main as emulator_main
from portal_emulator.config import DEFAULT_CATEGORIES, DEFAULT_FIELDSETS, parse_categories, parse_fieldsets
from portal_emulator.testing import run_emulator

from .conftest import http, make_public, new_dataset, sodapy_client

KNOWN_FIELDS = {
    "Dataset Information": {"Department": "Building and Safety", "Pipeline Dataset ID": "building-permits"},
    "Update": {"Update Frequency": "Daily", "Automation": "Yes"},
}


def _patch(emu, ds, body, **params):
    return http(emu).patch(f"{emu.url}/api/views/metadata/v1/{ds}", json=body, params=params)


def _meta(emu, ds):
    return http(emu).get(f"{emu.url}/api/views/metadata/v1/{ds}").json()


# -- GET /api/users/current.json ----------------------------------------------------------------


def test_current_user_names_the_account_that_owns_its_assets(emu, client):
    me = http(emu).get(f"{emu.url}/api/users/current.json")
    assert me.status_code == 200
    body = me.json()
    assert body["displayName"] == body["screenName"] == "publisher"
    assert body["roleName"] == "publisher" and "create_datasets" in body["rights"]
    assert "review_public_approvals" not in body["rights"]
    # The id is the one Discovery's for_user filter and the views' owner use.
    ds = new_dataset(client, "Owned by me")
    assert client.get_metadata(ds)["owner"]["id"] == body["id"]
    owned = http(emu).get(f"{emu.url}/api/catalog/v1", params={"for_user": body["id"]}).json()
    assert ds in {r["resource"]["id"] for r in owned["results"]}

    reviewer = http(emu, "reviewer").get(f"{emu.url}/api/users/current.json").json()
    assert reviewer["id"] != body["id"] and "review_public_approvals" in reviewer["rights"]
    assert http(emu, "admin").get(f"{emu.url}/api/users/current.json").json()["roleName"] == "administrator"


def test_current_user_refuses_anonymous_and_wrong_credentials(emu):
    anonymous = http(emu, None).get(f"{emu.url}/api/users/current.json")
    assert anonymous.status_code == 403
    assert anonymous.json()["error"] is True and anonymous.json()["code"] == "authentication_required"
    wrong = http(emu, None).get(f"{emu.url}/api/users/current.json", auth=("publisher", "not-the-password"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] is True and wrong.json()["code"] == "invalid_credentials"
    assert "not-the-password" not in wrong.text


# -- GET /api/catalog/v1/domain_categories ----------------------------------------------------------


def test_domain_categories_count_the_assets_the_caller_can_see(tmp_path, emu):
    # Its own emulator: the module's shared one holds other tests' datasets.
    with run_emulator(tmp_path / "portal") as fresh:
        with sodapy_client(fresh) as client:
            public = new_dataset(client, "Public one", category="Health")
            new_dataset(client, "Private one", category="Health")
            new_dataset(client, "Other", category="Housing and Real Estate", tags=["homes"])
            make_public(fresh, client, public)
        url = f"{fresh.url}/api/catalog/v1/domain_categories"
        seen = http(fresh).get(url, params={"domains": fresh.host}).json()
        assert seen["results"] == [
            {"domain_category": "Health", "count": 2},
            {"domain_category": "Housing and Real Estate", "count": 1},
        ]
        assert "timings" in seen
        # Anonymous callers count public, published, approved assets only.
        assert http(fresh, None).get(url).json()["results"] == [{"domain_category": "Health", "count": 1}]
        # The search filters restrict the counts, as on /api/catalog/v1.
        assert http(fresh).get(url, params={"tags": "homes"}).json()["results"] == [
            {"domain_category": "Housing and Real Estate", "count": 1}
        ]
        # A configured category that no asset uses is not counted (Discovery counts assets).
        names = {r["domain_category"] for r in seen["results"]}
        assert "City Infrastructure & Service Requests" in DEFAULT_CATEGORIES and names == {
            "Health",
            "Housing and Real Estate",
        }


# -- the Metadata API against the domain's vocabulary ------------------------------------------


def test_dry_run_reports_unknown_category_fieldset_and_field_without_applying(emu, client):
    ds = new_dataset(client, "Dry run")
    assert _patch(emu, ds, {"category": "Health", "customFields": KNOWN_FIELDS}).status_code == 200
    before = _meta(emu, ds)
    body = {
        "category": "Parks and Recreation",
        "license": "Public Domain",
        "customFields": {
            "Dataset Information": {"Pipeline Dataset ID": "x", "Agency Code": "LADBS"},
            "Publication Metadata": {"Publication Cycle": "Monthly"},
            "Update": {"Automation": "No"},
        },
    }
    strict = _patch(emu, ds, body, validateOnly="true", strict="true")
    assert strict.status_code == 200
    report = strict.json()
    messages = [e["message"] for e in report["errors"]]
    assert report["valid"] is False and report["warnings"] == []
    assert any("Parks and Recreation" in m for m in messages)
    assert any("'Publication Metadata'" in m for m in messages)
    assert any("'Agency Code'" in m and "'Dataset Information'" in m for m in messages)
    assert len(messages) == 3  # the known fieldsets and fields, and the license, are fine
    assert _meta(emu, ds) == before  # validateOnly never applies, not even the valid parts

    # Without strict the same problems are warnings: the update would go through.
    loose = _patch(emu, ds, body, validateOnly="true").json()
    assert loose["valid"] is True and len(loose["warnings"]) == 3 and loose["errors"] == []
    assert _meta(emu, ds) == before

    # A real strict PATCH fails with 400 and changes nothing.
    refused = _patch(emu, ds, body, strict="true")
    assert refused.status_code == 400 and refused.json()["code"] == "metadata.invalid"
    assert len(refused.json()["data"]["errors"]) == 3
    assert _meta(emu, ds) == before


def test_known_vocabulary_is_valid_and_plain_patches_behave_as_before(emu, client):
    ds = new_dataset(client, "Known vocabulary")
    every_default_field = {fs: dict.fromkeys(fields, "v") for fs, fields in DEFAULT_FIELDSETS.items()}
    report = _patch(
        emu, ds, {"category": "Health", "customFields": every_default_field}, validateOnly="true", strict="true"
    ).json()
    assert report == {"valid": True, "errors": [], "warnings": []}
    # Clearing what the domain does not have is not a problem (nothing would change).
    clearing = {"customFields": {"Old Set": None, "Update": {"Gone Field": None}}}
    assert _patch(emu, ds, clearing, validateOnly="true", strict="true").json()["valid"] is True
    # A plain PATCH (no strict) still applies a category or fieldset the domain lacks, as before.
    applied = _patch(emu, ds, {"category": "Transportation", "customFields": {"Owner": {"Agency": "DOT"}}})
    assert applied.status_code == 200
    assert applied.json()["category"] == "Transportation" and applied.json()["customFields"]["Owner"] == {
        "Agency": "DOT"
    }


def test_vocabulary_flags(tmp_path):
    args = ("--categories", "Health,Parks", "--fieldsets", "Update=Automation;Owner=Agency,Contact")
    with run_emulator(tmp_path / "narrow", extra_args=args) as emu:
        with sodapy_client(emu) as client:
            ds = new_dataset(client, "Narrow domain")

        def errors(body):
            return [e["message"] for e in _patch(emu, ds, body, validateOnly="true", strict="true").json()["errors"]]

        assert errors({"category": "Parks", "customFields": {"Owner": {"Agency": "DOT", "Contact": "x"}}}) == []
        assert errors({"category": "Housing and Real Estate"}) == [
            "Category 'Housing and Real Estate' does not exist on this domain"
        ]
        assert errors({"customFields": {"Update": {"Update Frequency": "Daily", "Automation": "Yes"}}}) == [
            "Custom field 'Update Frequency' does not exist in fieldset 'Update'"
        ]
        assert errors({"customFields": {"Dataset Information": {"Department": "x"}}}) == [
            "Custom fieldset 'Dataset Information' does not exist on this domain"
        ]
    with run_emulator(tmp_path / "open", extra_args=("--categories", "*", "--fieldsets", "*")) as emu:
        with sodapy_client(emu) as client:
            ds = new_dataset(client, "Anything goes")
        anything = {"category": "Whatever", "customFields": {"Any Set": {"Any Field": "v"}}}
        assert _patch(emu, ds, anything, validateOnly="true", strict="true").json()["valid"] is True


def test_vocabulary_parsing():
    assert parse_categories("Health, Parks ,,Health") == ("Health", "Parks")
    assert parse_categories("*") is None and parse_categories("") == ()
    assert parse_fieldsets("A=x,y; B = z ;") == {"A": ("x", "y"), "B": ("z",)}
    assert parse_fieldsets("*") is None and parse_fieldsets("") == {}
    for bad in ("A", "=x", "A="):
        with pytest.raises(ValueError, match="Fieldset=Field"):
            parse_fieldsets(bad)


def test_serve_refuses_a_malformed_fieldsets_flag(tmp_path, capsys):
    # Refused before anything starts (no server, no state file).
    assert emulator_main(["serve", "--state", str(tmp_path / "s.sqlite"), "--fieldsets", "Update"]) == 2
    assert "Fieldset=Field" in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()
