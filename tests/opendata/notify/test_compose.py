"""compose(): subjects, recipients from the repository's governance file, content, escaping."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.notify.compose import TEMPLATES_DIR, Message, RecipientError, compose, error_excerpt, resolve_recipients
from opendata.notify.events import RECIPIENTS, NotificationEvent, Role

from .conftest import ALICIA, DANIEL, JORGE, LUIS, MARIA, PRIYA, TOM

E = NotificationEvent

FULL = {
    "portal_url": "http://portal.example/d/bp01-perm",
    "portal_id": "bp01-perm",
    "report_path": "/opt/airflow/opendata/reports/building-permits/checklist.md",
    "report_url": "http://reports.example/building-permits/checklist.html",
    "validation_summary": "4,000 rows checked\n0 errors, 2 warnings (negative valuation)",
    "reviewer": "Maria Alvarez",
    "notes": "Please explain the valuation column.",
    "reviewed_at": dt.datetime(2026, 11, 20, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    "days_pending": 4,
    "not_before": dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    "airflow_url": "http://airflow.example/dags/building-permits/runs/r1/tasks/approve",
    "run_id": "scheduled__2026-11-27T00:00:00+00:00",
    "task_id": "refresh",
    "error": "OperationalError: connection to source failed",
    "rows": {"upserted": 1234, "deleted": 3},
    "freshness_state": "overdue",
    "last_update": dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC),
    "days_late": 5.5,
    "due_at": dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC),
    "findings": ["No successful pipeline run since 2026-10-31: check the DAG's failed or missing runs."],
    "comment_count": 3,
    "new_comments": 2,
    "waiting_since": dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.UTC),
    "answer_by": dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.UTC),
    "hours_waited": 50,
    "mark_answered": "python -m opendata.freshness comments answered building-permits --by jorge-ramos",
    "shrink_problem": "it would delete 80 of the 1,000 published rows (8.0%; the file allows 5%)",
    "warnings": ["range(valuation): 3 of 4,000 rows outside the rule \"at least 0\"",
                 "not_null(valuation): 4 of 4,000 rows outside the rule \"not empty\""],
    "warnings_total": 5,
    "report_attached": "data-submission-checklist.html",
    "run_kind": "refresh",
}

EXPECTED = {
    E.DEPARTMENT_APPROVAL_REQUESTED: (
        "[Open Data] Step 1: Building Permits needs department approval", (ALICIA,), (JORGE,)),
    E.DEPARTMENT_REJECTED: (
        "[Open Data] Step 1: Building Permits was not approved by the department", (JORGE, LUIS), (ALICIA,)),
    E.STAGE1_READY_FOR_REVIEW: (
        "[Open Data] Stage 1: Building Permits is ready for your review", (MARIA,), (JORGE,)),
    E.REVIEW_REMINDER: (
        "[Open Data] Reminder: Building Permits has waited 4 days for review", (MARIA,), ()),
    E.APPROVED_PUBLIC: (
        "[Open Data] Building Permits is approved and public", (JORGE, LUIS, ALICIA, DANIEL, PRIYA), ()),
    E.SCHEDULED_GO_LIVE: (
        "[Open Data] Building Permits is approved and goes public on 2026-12-01 09:00 (UTC-08:00)", (TOM, MARIA), ()),
    E.WENT_LIVE: ("[Open Data] Building Permits is now public", (TOM, MARIA, JORGE), ()),
    E.REJECTED: ("[Open Data] Stage 1: Building Permits was rejected", (JORGE, LUIS), (MARIA,)),
    E.REFRESH_FAILED: ("[Open Data] Refresh failed: Building Permits", (JORGE, LUIS), ()),
    E.FRESHNESS_DUE: ("[Open Data] Building Permits is overdue for its daily update", (LUIS, JORGE), ()),
    E.COMMENT_RECEIVED: ("[Open Data] New public comments on Building Permits", (JORGE, MARIA), ()),
    E.COMMENT_REMINDER: (
        "[Open Data] Reminder: public comments on Building Permits are waiting for an answer", (JORGE, MARIA), ()),
    E.RETIRED: ("[Open Data] Building Permits is retired", (MARIA,), (JORGE, LUIS)),
    E.SHRINK_APPROVAL_REQUESTED: (
        "[Open Data] Approve or stop: a refresh of Building Permits would delete published rows", (ALICIA, JORGE),
        (LUIS,)),
}

# What each event's message must say, in its text and its HTML.
KEY_DETAILS = {
    E.DEPARTMENT_APPROVAL_REQUESTED: ["airflow_url"],
    E.DEPARTMENT_REJECTED: ["reviewer", "notes", "airflow_url", '{"resubmit": true}'],
    E.STAGE1_READY_FOR_REVIEW: ["portal_url", "report_url", "report_attached", "validation_summary",
                                "and 3 more (see the checklist report)"],
    E.REVIEW_REMINDER: ["portal_url", "4 days"],
    E.APPROVED_PUBLIC: ["portal_url", "reviewer", "notes"],
    E.SCHEDULED_GO_LIVE: ["2026-12-01 09:00 (UTC-08:00)", "reviewer"],
    E.WENT_LIVE: ["portal_url", "2026-12-01 09:00 (UTC-08:00)"],
    E.REJECTED: ["notes", "reviewer"],
    E.REFRESH_FAILED: ["run_id", "task_id", "error", "airflow_url"],
    E.FRESHNESS_DUE: ["airflow_url", "portal_url", "It is overdue", "2026-11-01 08:00 (UTC)", "5.5 days",
                      "No successful pipeline run since 2026-10-31: check the DAG's failed or missing runs."],
    E.COMMENT_RECEIVED: ["portal_url", "mark_answered", "2 new public comments", "2026-11-24 23:00 (UTC)"],
    E.COMMENT_REMINDER: ["portal_url", "mark_answered", "50 business hours", "2026-11-20 23:00 (UTC)"],
    E.RETIRED: ["reviewer", "notes"],
    E.SHRINK_APPROVAL_REQUESTED: ["shrink_problem", "airflow_url", "Rows deleted"],
}


def test_every_event_has_a_recipient_row_and_templates():
    assert set(RECIPIENTS) == set(NotificationEvent)
    for event in NotificationEvent:
        assert (TEMPLATES_DIR / f"{event.value}.txt").is_file()
        assert (TEMPLATES_DIR / f"{event.value}.html").is_file()


@pytest.mark.parametrize("event", list(NotificationEvent), ids=str)
def test_subject_and_recipients(event, permits_spec, governance):
    subject, to, cc = EXPECTED[event]
    message = compose(event, permits_spec, governance, FULL)
    assert isinstance(message, Message)
    assert message.subject == subject
    assert (message.to, message.cc) == (to, cc)
    assert message.event == event.value and message.dataset_id == "building-permits"


@pytest.mark.parametrize("event", list(NotificationEvent), ids=str)
def test_key_details_in_text_and_html(event, permits_spec, governance):
    message = compose(event, permits_spec, governance, FULL)
    for key in KEY_DETAILS[event]:
        value = FULL.get(key, key)
        for line in str(value).splitlines():
            assert line in message.text, (key, line)
            assert line in message.html.replace("&#39;", "'"), (key, line)
    for part in (message.text, message.html):
        assert "Building Permits" in part
        assert "Department of Building and Safety" in part


def test_links_are_links_in_html(permits_spec, governance):
    message = compose(E.STAGE1_READY_FOR_REVIEW, permits_spec, governance, FULL)
    assert f'href="{FULL["portal_url"]}"' in message.html
    assert f'href="{FULL["report_url"]}"' in message.html


def test_department_approval_links_to_the_task(permits_spec, governance):
    message = compose(E.DEPARTMENT_APPROVAL_REQUESTED, permits_spec, governance,
                      {"airflow_url": "http://airflow.example/dags/building-permits/runs/r1/tasks/approve/required_actions"})
    assert "Approve or reject it in Airflow: http://airflow.example/dags/building-permits/runs/r1/tasks/approve/" \
           "required_actions" in message.text
    assert 'href="http://airflow.example/dags/building-permits/runs/r1/tasks/approve/required_actions"' in message.html


@pytest.mark.parametrize("event", list(NotificationEvent), ids=str)
def test_renders_without_optional_details(event, permits_spec, governance):
    message = compose(event, permits_spec, governance, {})
    assert message.subject.startswith("[Open Data] ") and "Building Permits" in message.subject
    assert "None" not in message.text and "None" not in message.html
    assert "Undefined" not in message.text
    assert message.text.strip() and "</html>" in message.html


def test_subjects_without_details(permits_spec, governance):
    subjects = {event: compose(event, permits_spec, governance).subject for event in NotificationEvent}
    # The reminder falls back to the dataset's review_reminder_days (3 in the file).
    assert subjects[E.REVIEW_REMINDER] == "[Open Data] Reminder: Building Permits has waited 3 days for review"
    assert subjects[E.SCHEDULED_GO_LIVE] == \
        "[Open Data] Building Permits is approved and goes public at the planned time"


def test_reviewer_notes_are_escaped_in_html(permits_spec, governance):
    notes = '<script>alert("x")</script> & <b>bold</b>'
    message = compose(E.REJECTED, permits_spec, governance, {"notes": notes, "reviewer": "<i>Eve</i>"})
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(" in message.html
    assert "<i>Eve</i>" not in message.html and "&lt;i&gt;Eve&lt;/i&gt;" in message.html
    assert notes in message.text  # plain text is not HTML: shown as written


def test_unsafe_link_schemes_are_shown_not_linked(permits_spec, governance):
    message = compose(E.APPROVED_PUBLIC, permits_spec, governance, {"portal_url": "javascript:alert(1)"})
    assert 'href="javascript' not in message.html
    assert "javascript:alert(1)" in message.html


def test_long_errors_are_cut_to_their_first_lines(permits_spec, governance):
    error = "\n".join(f"line {i}" for i in range(100))
    message = compose(E.REFRESH_FAILED, permits_spec, governance, {"error": error})
    assert "line 14" in message.text and "line 15" not in message.text
    assert "see the log for the rest" in message.text
    assert len(error_excerpt("x" * 10_000)) < 2100


def test_rows_and_times_are_formatted(permits_spec, governance):
    message = compose(E.APPROVED_PUBLIC, permits_spec, governance,
                      {"rows": {"upserted": 1234567, "deleted": 0}, "reviewed_at": "2026-11-20T10:05:00+00:00"})
    assert "Rows upserted:     1,234,567" in message.text
    assert "Rows deleted:      0" in message.text
    assert "2026-11-20 10:05 (UTC)" in message.text


def test_envelope_recipients_are_bare_addresses(permits_spec, governance):
    message = compose(E.REJECTED, permits_spec, governance)
    assert message.envelope_recipients == (
        "jorge.ramos@ladbs.lacity.example", "luis.herrera@ladbs.lacity.example", "cdo@opendata.lacity.example")


def test_coordinators_are_deduplicated_and_to_wins_over_cc(permits_spec, governance):
    departments = dict(governance.departments)
    dept = departments["building-and-safety"]
    departments["building-and-safety"] = dept.model_copy(
        update={"coordinators": ["samuel-okafor", "jorge-ramos"], "leadership": ["alicia-grant", "jorge-ramos"]})
    gov = governance.model_copy(update={"departments": departments})
    samuel = "Samuel Okafor <samuel.okafor@lasan.lacity.example>"
    to, cc = resolve_recipients(E.DEPARTMENT_APPROVAL_REQUESTED, permits_spec, gov)
    # Jorge leads too here, so he is in To once and not again in Cc.
    assert to == (ALICIA, JORGE)
    assert cc == (samuel,)
    to, _ = resolve_recipients(E.REFRESH_FAILED, permits_spec, gov)
    assert to == (JORGE, samuel, LUIS)  # the dataset's own coordinator first


def test_steward_who_is_also_a_coordinator_gets_one_copy(permits_spec, governance):
    steward = permits_spec.steward.model_copy(update={"email": "JORGE.RAMOS@ladbs.lacity.example"})
    spec = permits_spec.model_copy(update={"steward": steward})
    to, cc = resolve_recipients(E.REJECTED, spec, governance)
    assert to == (JORGE,) and cc == (MARIA,)


def test_unknown_person_is_a_clear_error(permits_spec, governance):
    spec = permits_spec.model_copy(update={"coordinator": "nobody-here"})
    with pytest.raises(RecipientError, match="nobody-here"):
        compose(E.REFRESH_FAILED, spec, governance)


def test_names_needing_quotes_are_quoted(permits_spec, governance):
    steward = permits_spec.steward.model_copy(update={"name": "Herrera, Luis"})
    spec = permits_spec.model_copy(update={"steward": steward})
    to, _ = resolve_recipients(E.REFRESH_FAILED, spec, governance)
    assert to[-1] == '"Herrera, Luis" <luis.herrera@ladbs.lacity.example>'


def test_roles_cover_the_playbook(permits_spec, governance):
    # Entering Stage 1 notifies the CDO; approval and publication notify department and policy team.
    assert Role.CDO in RECIPIENTS[E.STAGE1_READY_FOR_REVIEW].to
    assert {Role.COORDINATORS, Role.STEWARD, Role.LEADERSHIP, Role.POLICY_TEAM} <= set(RECIPIENTS[E.APPROVED_PUBLIC].to)
    assert Role.COMMUNICATIONS in RECIPIENTS[E.SCHEDULED_GO_LIVE].to
    # A public comment notifies the coordinator and the CDO; a lapse, the steward and coordinators.
    assert {Role.COORDINATORS, Role.CDO} <= set(RECIPIENTS[E.COMMENT_RECEIVED].to)
    assert {Role.COORDINATORS, Role.CDO} <= set(RECIPIENTS[E.COMMENT_REMINDER].to)
    assert {Role.STEWARD, Role.COORDINATORS} == set(RECIPIENTS[E.FRESHNESS_DUE].to)


def test_freshness_due_wording_follows_the_state(permits_spec, governance):
    due = compose(E.FRESHNESS_DUE, permits_spec, governance, {
        "freshness_state": "due", "last_update": "never",
        "overdue_at": dt.datetime(2026, 11, 5, 8, 0, tzinfo=dt.UTC)})
    assert due.subject == "[Open Data] Building Permits is due for its daily update"
    assert "the portal has no update of its data" in due.text
    assert "from 2026-11-05 08:00 (UTC) it is overdue and goes to the Chief Data Officer" in due.text
    assert "Last update:       never" in due.text


# --- the CDO's Stage 1 e-mail, the Step 1 refusal and the failure e-mail (issue 13) --------------

STAGE1 = {
    "portal_url": "http://portal.example/d/bp01-perm",
    "report_url": "http://airflow.example/dags/building-permits/runs/r1/tasks/validate",
    "report_path": "/srv/airflow/state/staging/building-permits/r1/report/data-submission-checklist.md",
    "report_attached": "data-submission-checklist.html",
    "warnings": ['range(valuation): 3 of 4,000 rows outside the rule "<script>x</script> & at least 0"',
                 "not_null(valuation): 4 of 4,000 rows outside the rule \"not empty\""],
    "warnings_total": 25,
}


def test_stage1_names_each_warning_links_the_report_in_airflow_never_a_server_path(permits_spec, governance):
    message = compose(E.STAGE1_READY_FOR_REVIEW, permits_spec, governance, STAGE1)
    for warning in STAGE1["warnings"]:
        assert f"  - {warning}\n" in message.text
    assert "  - and 23 more (see the checklist report)" in message.text
    assert "The department's Data Submission Checklist report is attached: data-submission-checklist.html" \
        in message.text
    assert f"The report in Airflow (the validate task's log): {STAGE1['report_url']}" in message.text
    assert f'href="{STAGE1["report_url"]}"' in message.html
    # The worker's file path is something the CDO cannot open: not in the message at all.
    assert "/srv/airflow" not in message.text + message.html
    # Warnings carry the dataset file's words: escaped in HTML.
    assert "<script>" not in message.html
    assert "<li>range(valuation): 3 of 4,000 rows outside the rule &#34;&lt;script&gt;x&lt;/script&gt; &amp; " \
           "at least 0&#34;</li>" in message.html
    assert "<li>and 23 more (see the checklist report)</li>" in message.html


def test_stage1_without_a_base_url_still_says_the_report_is_attached(permits_spec, governance):
    message = compose(E.STAGE1_READY_FOR_REVIEW, permits_spec, governance,
                      {"report_attached": "data-submission-checklist.html", "warnings": [], "warnings_total": 0})
    assert "report is attached: data-submission-checklist.html" in message.text
    assert "in Airflow" not in message.text and "Validation warnings" not in message.text


def test_a_step1_rejection_without_a_reason_says_so(permits_spec, governance):
    message = compose(E.DEPARTMENT_REJECTED, permits_spec, governance,
                      {"reviewer": "Alicia Grant", "reason_missing": True})
    assert "No reason was given in the form. Ask Alicia Grant what must change before resubmitting." in message.text
    assert "<strong>No reason was given in the form.</strong> Ask Alicia Grant" in message.html
    assert "notes below" not in message.text and "Notes:" not in message.text
    assert 'run configuration {"resubmit": true} to ask the department again' in message.text
    with_reason = compose(E.DEPARTMENT_REJECTED, permits_spec, governance,
                          {"reviewer": "Alicia Grant", "notes": "Document the status codes."})
    assert "No reason was given" not in with_reason.text
    assert "Notes:\n  Document the status codes." in with_reason.text


@pytest.mark.parametrize("run_kind,subject,opening", [
    ("refresh", "Refresh failed", "The refresh of Building Permits failed"),
    ("publication", "Publication failed", "The publication run of Building Permits failed"),
    (None, "Run failed", "A run of Building Permits failed"),
])
def test_the_failure_e_mail_says_refresh_only_for_refreshes(permits_spec, governance, run_kind, subject, opening):
    message = compose(E.REFRESH_FAILED, permits_spec, governance, {"run_kind": run_kind, "task_id": "extract"})
    assert message.subject == f"[Open Data] {subject}: Building Permits"
    assert message.text.startswith(f"{opening} in task extract.")
    assert f">{subject}: Building Permits</h1>" in message.html
    assert f"<p>{opening} in task <code>extract</code>" in message.html


def test_the_stage1_rejection_says_exactly_how_to_resubmit(permits_spec, governance):
    message = compose(E.REJECTED, permits_spec, governance, {"portal_url": "http://portal.example/d/bp01-perm"})
    how = 'trigger the DAG building-permits with the run configuration {"resubmit": true}'
    assert how in message.text
    assert 'trigger the DAG <code>building-permits</code> with the run configuration <code>{"resubmit": true}' \
           '</code>' in message.html
