"""The registry on SQLite (the default) and PostgreSQL (production)."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.registry import Registry, Stage
from tests.conftest import drop_pg_database, pg_url, registry_on

T0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry(request, tmp_path):
    with registry_on(request.param, tmp_path, "opendata_registry") as reg:
        yield reg


def test_a_dataset_through_its_stages_with_history(registry):
    registry.record_department_approval("permits", by="alicia-grant", at=T0, source="airflow", run_id="r1")
    registry.record_portal_dataset("permits", "abcd-1234", run_id="r1")
    registry.record_submission("permits", at=T0, run_id="r1")
    registry.record_review("permits", approved=True, by="cdo", at=T0, notes="fine", run_id="r1")
    registry.record_public("permits", at=T0, rows=4000, checksum="c0ffee", run_id="r1")
    registry.record_published_data("permits", rows=4010, checksum="beef", fingerprint_path="/fp", refreshed=True,
                                   run_id="r2")
    state = registry.get_state("permits")
    assert state.portal_id == "abcd-1234"
    assert state.stage is Stage.REFRESHING
    assert (state.department_approved_by, state.department_approval_source) == ("alicia-grant", "airflow")
    assert (state.review_state, state.reviewed_by, state.review_notes) == ("approved", "cdo", "fine")
    assert state.public_at == T0
    assert (state.published_rows, state.published_checksum, state.fingerprint_path) == (4010, "beef", "/fp")
    stages = [(c.stage_from, c.stage_to) for c in registry.history("permits")]
    assert stages == [(None, Stage.NOT_READY), (Stage.NOT_READY, Stage.STAGE_1), (Stage.STAGE_1, Stage.STAGE_1),
                      (Stage.STAGE_1, Stage.STAGE_2), (Stage.STAGE_2, Stage.REFRESHING)]
    assert registry.history("permits")[0].notes == "Step 1 approved by alicia-grant (airflow)"


def test_rejection_and_scheduled_go_live(registry):
    registry.record_submission("a", at=T0)
    registry.record_review("a", approved=False, by="cdo", at=T0, notes="add units")
    assert registry.get_state("a").stage is Stage.REJECTED
    registry.record_submission("b", at=T0)
    registry.record_review("b", approved=True, by="cdo", at=T0, notes=None, scheduled=True)
    assert registry.get_state("b").stage is Stage.SCHEDULED


def test_a_step1_rejection_is_recorded_until_an_approval_replaces_it(registry):
    registry.record_department_rejection("permits", by="alicia-grant", at=T0, reason="undocumented column",
                                         run_id="r1")
    state = registry.get_state("permits")
    assert state.stage is Stage.REJECTED   # a decision, shown as such (DAG tag stage:rejected)
    assert (state.department_rejected_by, state.department_rejected_at) == ("alicia-grant", T0)
    assert state.department_rejection == "rejected at Step 1 by alicia-grant: undocumented column"
    assert registry.history("permits")[-1].notes == "Step 1 rejected by alicia-grant: undocumented column"
    registry.record_department_approval("permits", by="alicia-grant", at=T0, source="airflow", run_id="r2")
    state = registry.get_state("permits")
    assert state.department_rejection is None and state.department_rejected_by is None
    assert state.department_approved_by == "alicia-grant"
    assert state.stage is Stage.NOT_READY   # not on the portal yet: Stage 1 follows


def test_a_step1_approval_leaves_a_portal_rejection_alone(registry):
    """Only a Step 1 refusal of a dataset not on the portal is undone by an approval; a CDO's
    rejection (Stage 1 done, on the portal) stays until the CDO decides again."""
    registry.record_portal_dataset("permits", "abcd-1234", run_id="r1")
    registry.record_submission("permits", at=T0, run_id="r1")
    registry.record_review("permits", approved=False, by="cdo", at=T0, notes="add units", run_id="r1")
    registry.record_department_approval("permits", by="alicia-grant", at=T0, source="airflow", run_id="r2")
    assert registry.get_state("permits").stage is Stage.REJECTED


def test_one_row_per_run_with_counts_and_outcome(registry):
    registry.start_run("permits", "r1", kind="publication")
    registry.start_run("permits", "r1", kind="publication")   # a retried task
    registry.update_run("permits", "r1", rows_extracted=4000, rows_created=4000, checksum="c0ffee")
    registry.update_run("permits", "r1", outcome="success")
    (run,) = registry.runs("permits")
    assert (run.rows_extracted, run.rows_created, run.outcome, run.checksum) == (4000, 4000, "success", "c0ffee")
    assert run.ended_at is not None and run.ended_at >= run.started_at
    with pytest.raises(ValueError, match="unknown run fields: rows"):
        registry.update_run("permits", "r1", rows=1)


def test_unknown_dataset_has_no_state(registry):
    assert registry.get_state("nothing") is None
    assert registry.runs("nothing") == []


def test_many_processes_may_open_a_fresh_registry_at_once(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    code = f"from opendata.registry import Registry; Registry({url!r}).start_run('d', 'r', kind='x')"
    processes = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, errors
    assert len(Registry(url).runs("d")) == 1


@pytest.mark.postgres
def test_registry_init_creates_the_postgresql_database(monkeypatch):
    import subprocess
    import sys

    name = f"opendata_registry_init_{__import__('secrets').token_hex(3)}"
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", pg_url(name).replace("+psycopg", ""))
    try:
        first = subprocess.run([sys.executable, "-m", "opendata", "registry", "init"], capture_output=True,
                               text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("created the registry database\nregistry ready")
        again = subprocess.run([sys.executable, "-m", "opendata", "registry", "init"], capture_output=True,
                               text=True, timeout=120)
        assert again.stdout.startswith("registry ready")
        assert Registry(pg_url(name)).all_states() == []
    finally:
        drop_pg_database(name)


def test_creation_intent_is_kept_until_the_portal_id_is_recorded(registry):
    registry.record_creation_intent("permits", at=T0, run_id="r1")
    state = registry.get_state("permits")
    assert (state.creation_started_at, state.portal_id) == (T0, None)
    registry.record_portal_dataset("permits", "abcd-1234", run_id="r1", note="found on the portal by its marker")
    state = registry.get_state("permits")
    assert (state.creation_started_at, state.portal_id) == (None, "abcd-1234")
    assert registry.history("permits")[-1].notes == "found on the portal by its marker"


def test_a_registry_of_an_earlier_version_gains_the_intent_column(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = sa.create_engine(url)
    with old.begin() as conn:  # the dataset table as an earlier version created it
        conn.execute(sa.text("CREATE TABLE opendata_dataset_state (dataset_id VARCHAR(100) PRIMARY KEY, "
                             "portal_id VARCHAR(20), stage VARCHAR(20) NOT NULL, updated_at DATETIME NOT NULL)"))
        conn.execute(sa.text("INSERT INTO opendata_dataset_state VALUES ('permits', 'abcd-1234', 'stage-2', "
                             "'2026-11-01 09:00:00')"))
    old.dispose()
    from opendata.registry import store

    store._READY.discard(url)
    registry = Registry(url)
    try:
        state = registry.get_state("permits")
        assert (state.portal_id, state.stage, state.creation_started_at) == ("abcd-1234", Stage.STAGE_2, None)
    finally:
        registry.close()
