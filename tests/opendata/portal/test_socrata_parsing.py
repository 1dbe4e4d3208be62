"""Pure parsers: approvals guidance and history, view JSON, Metadata API, Discovery, permissions.

Payload shapes follow the recorded responses in docs/socrata-api.md.
"""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.portal.approvals import (
    approval_status_from_json,
    latest_review,
    review_account,
    submission_body,
)
from opendata.portal.errors import SocrataUnexpectedResponse
from opendata.portal.models import (
    ApprovalState,
    AssetMetadata,
    Audience,
    ColumnSpec,
    DatasetMetadata,
    PublicationStage,
    UpsertResult,
    ViewMetadata,
    audience_from_permissions,
    parse_catalog_page,
    parse_timestamp,
)

# The recorded approvals[] entry from NYC uczf-rk3c (reference §2.5).
RECORDED_APPROVAL = {
    "reviewedAt": 1577804227,
    "reviewedAutomatically": True,
    "state": "approved",
    "submissionId": 4792823,
    "submissionObject": "public_audience_request",
    "submissionOutcome": "change_audience",
    "submittedAt": 1577804227,
    "targetAudience": "public",
    "workflowId": 2285,
    "submissionDetails": {"permissionType": "READ"},
    "submissionOutcomeApplication": {"endedAt": 1577804228, "failureCount": 0, "startedAt": 1577804227},
    "submitter": {"id": "d5dp-fses", "displayName": "afinkel"},
}


def guidance(state, **extra):
    public = {"currentState": state, **extra}
    return {"public": public, "internal": {"currentState": "unsubmittable"}}


@pytest.mark.parametrize("state", ["approved", "pending", "rejected", "submittable", "unsubmittable"])
def test_guidance_v2_states(state):
    status = approval_status_from_json("abcd-1234", guidance(state))
    assert status.state is ApprovalState(state)
    assert status.audience == "public"
    assert status.is_final == (state in ("approved", "rejected"))
    assert status.can_submit == (state in ("submittable", "rejected"))


def test_guidance_v1_top_level_and_unknown_state():
    status = approval_status_from_json(
        "abcd-1234", {"currentState": "pending", "currentOutcome": "change_audience"}
    )
    assert status.state is ApprovalState.PENDING and status.outcome == "change_audience"
    assert approval_status_from_json("abcd-1234", guidance("mystery")).state is ApprovalState.UNKNOWN
    with pytest.raises(SocrataUnexpectedResponse):
        approval_status_from_json("abcd-1234", ["not", "an", "object"])
    with pytest.raises(SocrataUnexpectedResponse):
        approval_status_from_json("abcd-1234", {"internal": {"currentState": "approved"}})


def test_internal_audience_can_be_read():
    status = approval_status_from_json("abcd-1234", guidance("approved"), audience="internal")
    assert status.state is ApprovalState.UNSUBMITTABLE


def test_recorded_approval_record():
    status = approval_status_from_json(
        "abcd-1234",
        guidance("approved", currentOutcome="change_audience", currentOutcomeStatus="in_progress"),
        [RECORDED_APPROVAL],
    )
    review = status.latest_review
    assert review.state == "approved"
    assert review.submitter == "afinkel"
    assert review.reviewed_automatically is True
    assert review.submission_id == "4792823"
    assert status.reviewed_at == dt.datetime.fromtimestamp(1577804227, tz=dt.UTC)
    assert status.outcome_status == "in_progress"
    assert status.to_dict()["state"] == "approved"


def test_latest_review_picks_newest_for_the_audience():
    older = {"state": "rejected", "reviewedAt": 100, "targetAudience": "public"}
    newer = {"state": "approved", "reviewedAt": 200, "reviewedAutomatically": False, "targetAudience": "public"}
    internal = {"state": "approved", "reviewedAt": 300, "targetAudience": "internal"}
    pending = {"state": "pending", "submittedAt": 150, "targetAudience": "public"}
    review = latest_review([newer, internal, older, pending])
    assert (review.state, review.reviewed_at, review.reviewed_automatically) == (
        "approved", dt.datetime.fromtimestamp(200, tz=dt.UTC), False)
    review = latest_review([older, pending])
    assert review.state == "pending"
    assert latest_review([]) is None
    assert latest_review(None) is None


def test_fields_no_recording_shows_are_not_read():
    """Reviewer names and notes appear in no recorded approval record: a portal that sent them
    would still not make the pipeline claim to know who reviewed or why."""
    invented = {**RECORDED_APPROVAL, "reviewer": {"displayName": "CDO"}, "notes": "looks good",
                "reviewedBy": "x", "reviewNotes": "y", "comment": "z"}
    review = latest_review([invented])
    assert review == latest_review([RECORDED_APPROVAL])
    assert not hasattr(review, "notes") and not hasattr(review, "reviewer")
    assert set(approval_status_from_json("abcd-1234", guidance("approved"), [invented]).to_dict()) == {
        "dataset_id", "audience", "state", "outcome", "outcome_status", "can_submit", "reviewed_at",
        "reviewed_automatically", "review_state"}


def test_review_account_never_invents_a_reviewer_or_notes():
    at = dt.datetime(2026, 11, 28, 17, 5, tzinfo=dt.UTC)
    person = review_account(approved=False, reviewed_at=at, reviewed_automatically=False,
                            portal_url="https://data.lacity.org/d/abcd-1234")
    assert person.by == "a reviewer on the portal"
    assert person.notes == ("Rejected on the portal at 2026-11-28 17:05 UTC. The portal's API does not give the "
                            "reviewer's name or notes; read them on the dataset's page on the portal: "
                            "https://data.lacity.org/d/abcd-1234")
    automatic = review_account(approved=True, reviewed_at=at, reviewed_automatically=True, portal_url=None)
    assert automatic.by == "the portal's automatic approval"
    assert automatic.notes == "Approved automatically by the portal's approval workflow at 2026-11-28 17:05 UTC."
    unknown = review_account(approved=True, reviewed_at=None, reviewed_automatically=None, portal_url=None)
    assert "a time the portal did not report" in unknown.notes and unknown.by and "None" not in unknown.notes


def test_submission_body():
    assert submission_body() == {"object": "public_audience_request", "outcome": "change_audience"}
    entry = {"toChangeAudience": {"submission": {"object": "public_audience_request", "details": {"id": 7}}}}
    assert submission_body(entry)["details"] == {"id": 7}


def test_view_metadata_from_recorded_shape():
    view = {
        "id": "2frc-hyvj",
        "name": "Foo",
        "publicationStage": "unpublished",
        "rowIdentifierColumnId": 230641051,
        "columns": [
            {"id": 230641050, "name": "Foo", "dataTypeName": "text", "fieldName": "foo", "position": 1},
            {"id": 230641051, "name": "Bar", "dataTypeName": "number", "fieldName": "bar", "position": 2},
        ],
        "metadata": {"rowIdentifier": 230641051, "custom_fields": {"Update": {"Automation": "Yes"}}},
        "rights": ["read", "write"],
        "flags": ["default"],
        "rowsUpdatedAt": 1700000000,
        "viewLastModified": 1700000100,
        "numberOfComments": 3,
        "approvals": [RECORDED_APPROVAL],
    }
    parsed = ViewMetadata.from_json(view)
    assert parsed.publication_stage is PublicationStage.UNPUBLISHED and not parsed.is_published
    assert parsed.audience is Audience.PRIVATE
    assert parsed.row_identifier_field == "bar" and parsed.has_row_identifier
    assert parsed.rows_updated_at == dt.datetime.fromtimestamp(1700000000, tz=dt.UTC)
    assert parsed.number_of_comments == 3 and len(parsed.approvals) == 1
    public = ViewMetadata.from_json(
        {
            **view,
            "publicationStage": "published",
            "grants": [{"inherited": False, "type": "viewer", "flags": ["public"]}],
        }
    )
    assert public.is_public and public.is_published
    no_rid = ViewMetadata.from_json({"id": "abcd-1234", "columns": []})
    assert not no_rid.has_row_identifier
    assert ViewMetadata.from_json(
        {"id": "abcd-1234", "metadata": {"rowIdentifier": "permit_id"}}
    ).row_identifier_field == ("permit_id")
    with pytest.raises(SocrataUnexpectedResponse):
        ViewMetadata.from_json({"name": "no id"})


def test_asset_metadata():
    payload = {
        "id": "abcd-1234",
        "name": "Housing Construction - 2014",
        "license": "Public Domain",
        "tags": ["housing"],
        "customFields": {"Publication Metadata": {"Publication Cycle": "Monthly"}},
        "createdAt": "2024-01-01T00:00:00+00:00",
        "dataUpdatedAt": "2024-03-01T10:00:00-08:00",
        "metadataUpdatedAt": "2024-03-02T00:00:00Z",
    }
    meta = AssetMetadata.from_json(payload)
    assert meta.data_updated_at == dt.datetime(2024, 3, 1, 18, 0, tzinfo=dt.UTC)
    assert meta.metadata_updated_at == dt.datetime(2024, 3, 2, tzinfo=dt.UTC)
    assert meta.custom_fields["Publication Metadata"]["Publication Cycle"] == "Monthly"
    assert meta.tags == ("housing",)


def test_catalog_page():
    payload = {
        "results": [
            {
                "resource": {
                    "id": "abcd-1234",
                    "name": "Permits",
                    "data_updated_at": "2024-03-01T10:00:00.000Z",
                    "metadata_updated_at": "2024-03-02T10:00:00.000Z",
                },
                "metadata": {"domain": "data.lacity.org", "is_public": False, "visible_to_site": False},
            },
            {
                "resource": {"id": "efgh-5678", "data_updated_at": None},
                "metadata": {"is_public": True, "is_published": True},
            },
            {"resource": {}},
        ],
        "resultSetSize": 2,
    }
    items, total = parse_catalog_page(payload)
    assert total == 2
    assert [i.id for i in items] == ["abcd-1234", "efgh-5678"]
    assert items[0].audience is Audience.PRIVATE and items[1].audience is Audience.PUBLIC
    assert items[0].data_updated_at == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert items[1].data_updated_at is None and items[1].published is True
    with pytest.raises(SocrataUnexpectedResponse):
        parse_catalog_page({"error": "x"})


def test_permissions_scope():
    assert audience_from_permissions({"scope": "private"}) is Audience.PRIVATE
    assert audience_from_permissions({"scope": "public", "accessLevels": []}) is Audience.PUBLIC
    assert audience_from_permissions({"scope": "site"}) is Audience.SITE
    with pytest.raises(SocrataUnexpectedResponse):
        audience_from_permissions({"scope": "galaxy"})


def test_timestamps():
    assert parse_timestamp(None) is None and parse_timestamp("garbage") is None
    assert parse_timestamp("1700000000") == dt.datetime.fromtimestamp(1700000000, tz=dt.UTC)
    assert parse_timestamp("2024-01-01T00:00:00") == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def test_upsert_report_sum():
    a = UpsertResult.from_json(
        {
            "Errors": 0,
            "Rows Deleted": 0,
            "Rows Updated": 0,
            "By SID": 0,
            "Rows Created": 1,
            "By RowIdentifier": 0,
        },
        rows_sent=1,
    )
    b = UpsertResult.from_json(
        {"Rows Deleted": 1, "Rows Updated": 2, "Rows Created": 0, "Errors": 1}, rows_sent=4
    )
    total = a + b
    assert total.as_report() == {"Rows Created": 1, "Rows Updated": 2, "Rows Deleted": 1, "Errors": 1}
    assert (total.rows_sent, total.requests) == (5, 2)
    with pytest.raises(SocrataUnexpectedResponse):
        UpsertResult.from_json([1, 2])


def test_column_and_metadata_inputs():
    col = ColumnSpec("permit_id", "Permit ID", "text", "The permit number")
    assert col.to_view_json() == {
        "fieldName": "permit_id",
        "name": "Permit ID",
        "dataTypeName": "text",
        "description": "The permit number",
    }
    assert ColumnSpec.coerce({"fieldName": "x", "name": "X", "dataTypeName": "number"}).data_type == "number"
    for bad in ("Permit ID", "PermitId", ""):
        with pytest.raises(ValueError):
            ColumnSpec(bad, "x")
    with pytest.raises(ValueError):
        ColumnSpec("x", "x", "varchar")
    meta = DatasetMetadata(
        description="d",
        tags=("a", "b"),
        license="Public Domain",
        license_id="PUBLIC_DOMAIN",
        attribution_link="https://example.gov",
        custom_fields={"Set": {"F": "v"}},
    )
    assert meta.to_metadata_api() == {
        "description": "d",
        "license": "Public Domain",
        "attributionLink": "https://example.gov",
        "tags": ["a", "b"],
        "customFields": {"Set": {"F": "v"}},
    }
    view = meta.to_view_json()
    assert view["licenseId"] == "PUBLIC_DOMAIN" and view["license"] == {"name": "Public Domain"}
    assert DatasetMetadata(custom_fields={"Set": None}).to_metadata_api() == {"customFields": {"Set": None}}
