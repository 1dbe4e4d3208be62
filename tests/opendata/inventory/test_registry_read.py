"""The registry in bulk, on real registries (SQLite file, PostgreSQL) written by their own
operations: a handful of queries whatever the number of datasets."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opendata.freshness.alert_store import AlertStore
from opendata.freshness.comments import CommentWatch
from opendata.inventory.registry_read import RegistryReader
from tests.conftest import registry_on

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
D = dt.timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry(request, tmp_path):
    with registry_on(request.param, tmp_path, "opendata_inventory") as reg:
        yield reg


def publish(registry, dataset_id: str, runs: int) -> None:
    """What the pipeline records for a dataset that went public, then refreshed ``runs - 1`` times."""
    registry.record_department_approval(dataset_id, by="Alicia Grant", at=NOW - 30 * D, source="airflow",
                                        run_id="r0")
    registry.record_portal_dataset(dataset_id, "abcd-1234", run_id="r0")
    registry.record_submission(dataset_id, at=NOW - 29 * D, run_id="r0")
    registry.record_public(dataset_id, at=NOW - 28 * D, rows=10, checksum="c0", run_id="r0")
    for n in range(runs):
        registry.start_run(dataset_id, f"r{n}", kind="refresh" if n else "publication")
        registry.update_run(dataset_id, f"r{n}", rows_extracted=10 + n, rows_created=n, rows_updated=1,
                            rows_deleted=0, outcome="failed" if n == runs - 1 and n else "success")
    if runs > 1:
        registry.record_published_data(dataset_id, rows=10 + runs, checksum="c1", fingerprint_path=None,
                                       refreshed=True, run_id=f"r{runs - 2}")


def count_statements(registry):
    statements: list[str] = []
    sa.event.listen(registry.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_every_dataset_in_four_queries(registry):
    publish(registry, "building-permits", 3)
    registry.record_department_rejection("service-requests-311", by="Helen Wu", at=NOW - D,
                                         reason="Document the status codes.", run_id="x1")
    AlertStore(registry).save_comment_states([
        CommentWatch("building-permits", 2, NOW, pending_since=NOW - 30 * dt.timedelta(hours=1), notified_at=NOW),
        CommentWatch("service-requests-311", 1, NOW)])
    reader = RegistryReader(registry)
    facts = reader.read()
    assert set(facts.states) == {"building-permits", "service-requests-311"}
    permits = facts.states["building-permits"]
    assert (permits.stage, permits.portal_id, permits.department_approved_by) == ("refreshing", "abcd-1234",
                                                                                  "Alicia Grant")
    assert permits.public_at == NOW - 28 * D and permits.last_refresh_at is not None
    rejected = facts.states["service-requests-311"]
    assert (rejected.stage, rejected.department_rejected_by, rejected.department_rejection_reason) == (
        "rejected", "Helen Wu", "Document the status codes.")
    latest = facts.latest_runs["building-permits"]
    assert (latest.run_id, latest.outcome, latest.rows_created, latest.rows_extracted) == ("r2", "failed", 2, 12)
    # The last confirmed update: the later of the last successful run and the last confirmed refresh.
    assert facts.last_updates["building-permits"] >= latest.started_at
    assert set(facts.comments) == {"building-permits"}
    assert facts.comments["building-permits"].comment_count == 2
    assert [run.run_id for run in reader.runs("building-permits")] == ["r0", "r1", "r2"]
    only = reader.read(["service-requests-311"])
    assert set(only.states) == {"service-requests-311"} and only.latest_runs == {}

    statements = count_statements(registry)
    reader.read()
    few = len(statements)
    for n in range(30):
        publish(registry, f"dataset-{n:02d}", 2)
    statements.clear()
    assert len(reader.read().states) == 32
    assert len(statements) == few <= 5, statements


def test_a_registry_without_the_comment_watch_table(tmp_path):
    from opendata.registry import Registry

    registry = Registry(f"sqlite:///{tmp_path / 'bare.sqlite'}")
    try:
        with registry.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS opendata_comment_watch"))
        publish(registry, "building-permits", 1)
        assert RegistryReader(registry).read().comments == {}
    finally:
        registry.close()
