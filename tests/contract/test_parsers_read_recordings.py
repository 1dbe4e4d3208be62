"""(a) The project's parsers read every recorded (or documented) Socrata response correctly, and
read no key that neither a recording nor Socrata's own client shows."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.portal.errors import SocrataAuthError, SocrataBadRequest, SocrataNotFound, SocrataUnexpectedResponse
from opendata.portal.models import ApprovalState, Audience, PublicationStage
from tests.contract.readers import READERS, client_documented, read_error
from tests.contract.recordings import KeyTracker, all_recordings, key_paths, load, names

#: recording -> the reader of its endpoint. Recordings of endpoints the project never calls
#: (imports2 blobs, single-row reads and deletes) have no reader and are listed in NOT_CALLED.
READER_OF = {
    "views_get_uczf-rk3c": "view",
    "views_get_songs_legacy": "view",
    "views_create_foobar": "view",
    "views_update_metadata_songs": "view",
    "views_get_uczf-rk3c_approvals": "approvals",
    "resource_upsert_songs": "upsert_report",
    "resource_replace_songs": "upsert_report",
    "resource_upsert_docs_example": "upsert_report",
    "resource_upsert_docs_retry_example": "upsert_report",
    "resource_replace_docs_example": "upsert_report",
    "resource_upsert_blog_sensor_push": "upsert_report",
    "catalog_v1_nyc_limit7": "catalog",
    "catalog_v1_global_2018": "catalog",
    "catalog_v1_show_visibility_schema": "catalog",
    "metadata_v1_get_schema": "metadata",
    "permissions_get_example": "permissions",
    "permissions_put_example": "permissions",
    "approvals_guidance_v2_schema": "guidance",
    "dsmapi_revision_schema": "revision",
    "dsmapi_source_schema": "source",
    "dsmapi_output_schema_schema": "output_schema",
    "dsmapi_apply_taskset_schema": "apply",
    "dsmapi_apply_job_get_schema": "job",
}
NOT_CALLED = {
    "imports2_blob_create", "imports2_accepted_202_docs_example", "resource_row_get_docs_example",
    "resource_row_delete_docs_example", "metadata_v1_list_schema", "dsmapi_input_schema_schema",
    "dsmapi_transform_schema",
}


def test_every_recording_is_read_or_known_to_be_unused():
    errors = {"resource_upsert_403", "views_get_missing_404", "resource_get_missing_404", "soda_error_docs_example",
              "approvals_error_400_schema"}
    other = {"dsmapi_revision_socrata_py_readme", "dsmapi_source_socrata_py_readme", "dsmapi_source_initiate_schema",
             "resource_get_uczf-rk3c", "resource_get_uczf-rk3c_limit1", "resource_get_xywu-7bv9"}
    assert set(names()) == set(READER_OF) | NOT_CALLED | errors | other


@pytest.mark.parametrize("name", sorted(READER_OF))
def test_reading_a_recording_reads_only_recorded_keys(name):
    recording = load(name)
    tracker = KeyTracker(recording.body)
    READERS[READER_OF[name]](tracker.value)
    # Keys the parser asked for that this recording lacks are fine when other recordings of the
    # endpoint have them; keys no recording has at all must be documented by Socrata's client.
    missing = set(tracker.missing_reads())
    seen_anywhere = {p for r in all_recordings() if READER_OF.get(r.name) == READER_OF[name] for p in key_paths(r.body)}
    unexplained = sorted(p for p in missing if p not in seen_anywhere and not client_documented(p)
                         and p.split(".")[-1] not in _OPTIONAL_ALIASES
                         # fieldset and field names inside the recorded custom_fields are the domain's own
                         and not p.startswith("metadata.custom_fields."))
    assert unexplained == []


#: Keys the parsers try as alternatives of a recorded key (older or newer API forms): reading an
#: absent alternative is harmless. Each names the recorded key it stands in for.
_OPTIONAL_ALIASES = {
    "dataUpdatedAt": "data_updated_at (Discovery) / Metadata API dataUpdatedAt",
    "metadataUpdatedAt": "metadata_updated_at",
    "audience": "Discovery metadata.audience filter name",
    "approval_status": "Discovery approval_status filter name",
    "approvals": "view JSON approvals[] (only on assets with submissions)",
    "numberOfComments": "view JSON numberOfComments",
    "comments": "older Discovery comments count",
    "rowIdentifierColumnId": "only on datasets with a row identifier",
    "rowIdentifier": "metadata.rowIdentifier, only with a row identifier",
    "custom_fields": "metadata.custom_fields, only on assets with custom metadata",
    "hideFromCatalog": "view JSON hideFromCatalog",
    "is_published": "Discovery show_visibility",
    "is_public": "Discovery show_visibility",
    "visible_to_anonymous": "Discovery show_visibility",
    "visible_to_site": "Discovery show_visibility",
    "links": "publishing API {resource, links}",
    "submissionOutcomeApplication": "approval record, once an outcome was applied",
    "reviewedAt": "approval record, once reviewed",
    "reviewedAutomatically": "approval record",
    "finished_at": "publishing API OutputSchema/Source finished_at",
    "failed_at": "publishing API Source failed_at",
    "failure_details": "publishing API Source failure_details",
    "num_row_errors": "publishing API InputSchema num_row_errors",
    "log": "publishing API TaskSet log",
    "task_sets": "publishing API Revision task_sets",
    "closed_at": "publishing API Revision closed_at",
    "output_schema_id": "publishing API Revision output_schema_id",
    "Errors": "upsert report Errors",
    "Rows Deleted": "upsert report Rows Deleted",
    "Rows Updated": "upsert report",
    "Rows Created": "upsert report",
    "resultSetSize": "Discovery resultSetSize",
    "scope": "Permissions API scope",
    "resource": "publishing API {resource, links} wrapper (a bare object is read as the resource)",
    "user_id": "publishing API Creator.user_id (Revision.created_by is an untyped object in the spec)",
}


def test_recorded_view_of_a_live_public_dataset():
    read = READERS["view"](load("views_get_uczf-rk3c").body)
    view = read["view"]
    assert view.id == "uczf-rk3c" and view.publication_stage is PublicationStage.PUBLISHED
    assert view.audience is Audience.PUBLIC and not read["hidden"] and not read["marked"]
    assert view.columns and view.rows_updated_at is not None and view.created_at is not None
    review = read["review"]
    assert (review.state, review.reviewed_automatically, review.submitter) == ("approved", True, "afinkel")
    assert review.reviewed_at == dt.datetime.fromtimestamp(1577804227, tz=dt.UTC)


def test_recorded_create_answer_is_an_unpublished_private_draft():
    view = READERS["view"](load("views_create_foobar").body)["view"]
    assert view.id == "2frc-hyvj" and view.publication_stage is PublicationStage.UNPUBLISHED
    assert view.audience is Audience.PRIVATE and not view.is_published
    assert view.row_identifier_column_id == 230641051 and view.has_row_identifier


def test_recorded_approval_record_has_no_reviewer_or_notes():
    recording = load("views_get_uczf-rk3c_approvals")
    assert all("reviewer" not in record and "notes" not in record for record in recording.body)
    review = READERS["approvals"](recording.body)
    assert review.state == "approved" and review.outcome_status == "success"


@pytest.mark.parametrize("name,created,updated,deleted,errors", [
    ("resource_upsert_songs", None, None, None, None),
    ("resource_replace_songs", None, None, None, None),
    ("resource_upsert_docs_example", None, None, None, None),
    ("resource_upsert_docs_retry_example", 0, 2, 0, 1),
    ("resource_replace_docs_example", None, None, None, None),
    ("resource_upsert_blog_sensor_push", 1, 0, 0, 0),
])
def test_recorded_upsert_reports(name, created, updated, deleted, errors):
    body = load(name).body
    report = READERS["upsert_report"](body)
    assert report.rows_created == int(body.get("Rows Created", 0))
    assert report.rows_updated == int(body.get("Rows Updated", 0))
    assert report.rows_deleted == int(body.get("Rows Deleted", 0))
    assert report.errors == int(body.get("Errors", 0))
    if created is not None:
        assert (report.rows_created, report.rows_updated, report.rows_deleted, report.errors) == (
            created, updated, deleted, errors)


@pytest.mark.parametrize("name,cls,code", [
    ("resource_upsert_403", SocrataAuthError, None),
    ("views_get_missing_404", SocrataNotFound, "not_found"),
    ("resource_get_missing_404", SocrataNotFound, "dataset.missing"),
    ("soda_error_docs_example", SocrataBadRequest, "query.compiler.malformed"),
])
def test_recorded_errors_become_typed_errors(name, cls, code):
    recording = load(name)
    err = read_error(recording.body, recording.status or 400, recording.headers)
    assert isinstance(err, cls) and err.code == code
    assert err.message == recording.body["message"][:500]


@pytest.mark.parametrize("name", ["catalog_v1_nyc_limit7", "catalog_v1_global_2018"])
def test_recorded_catalog_pages(name):
    body = load(name).body
    items, total = READERS["catalog"](body)
    assert [i.id for i in items] == [r["resource"]["id"] for r in body["results"]]
    assert total == body["resultSetSize"]
    if name == "catalog_v1_nyc_limit7":  # the 2025 recording carries Discovery's data_updated_at
        assert all(i.data_updated_at is not None for i in items)


def test_documented_permissions_and_guidance():
    assert READERS["permissions"](load("permissions_get_example").body) is Audience.PRIVATE
    status = READERS["guidance"](load("approvals_guidance_v2_schema").body)
    assert status.state is ApprovalState.UNKNOWN  # a skeleton: "<string>" is no state


def test_documented_dsmapi_shapes():
    source = READERS["source"](load("dsmapi_source_schema").body)
    assert source.input_schema_id == 0 and source.output is not None
    assert [c.field_name for c in source.output.columns] == ["<string>"]
    output = READERS["output_schema"](load("dsmapi_output_schema_schema").body)
    # publishing.json documents finished_at and error_count, not completed_at: complete by those.
    assert output.complete
    apply = READERS["apply"](load("dsmapi_apply_taskset_schema").body)
    assert not apply["held"] and apply["job"].id == 0
    # The 2017 README shapes (update_seq instead of revision_seq) are refused clearly, not misread.
    with pytest.raises(SocrataUnexpectedResponse):
        READERS["revision"]({"resource": load("dsmapi_revision_socrata_py_readme").body})
    assert load("dsmapi_source_initiate_schema").body["preferred_chunk_size"] > 0
