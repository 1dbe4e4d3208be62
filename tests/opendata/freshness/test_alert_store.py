"""The monitor's memory in the registry, on SQLite and PostgreSQL: bulk reads, no per-dataset queries."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from opendata.freshness.alert_store import AlertStore, NotWatched
from opendata.freshness.alerts import AlertRecord, Channel
from opendata.freshness.comments import CommentWatch
from opendata.freshness.status import FreshnessState
from tests.conftest import registry_on

T0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry(request, tmp_path):
    with registry_on(request.param, tmp_path, "opendata_alerts") as reg:
        yield reg


def test_alert_records_are_replaced_and_cleared(registry):
    store = AlertStore(registry)
    assert store.alert_records() == {}
    first = [AlertRecord("a", Channel.DEPARTMENT, FreshnessState.DUE, T0, T0),
             AlertRecord("a", Channel.CDO, FreshnessState.OVERDUE, T0, T0),
             AlertRecord("b", Channel.DEPARTMENT, FreshnessState.OVERDUE, T0, T0)]
    store.save_alert_records(first)
    later = AlertRecord("a", Channel.DEPARTMENT, FreshnessState.OVERDUE, T0 + H, T0 + H)
    store.save_alert_records([later])
    records = store.alert_records()
    assert records[("a", Channel.DEPARTMENT)] == later
    assert records[("a", Channel.CDO)] == first[1]
    store.clear_alert_records([("a", Channel.CDO), ("b", Channel.DEPARTMENT), ("zz", Channel.CDO)])
    assert set(store.alert_records()) == {("a", Channel.DEPARTMENT)}


def test_last_successes_newest_data_and_watermarks_in_bulk(registry):
    registry.start_run("a", "r1", kind="refresh")
    registry.update_run("a", "r1", outcome="success")
    registry.start_run("a", "r2", kind="refresh")
    registry.update_run("a", "r2", outcome="failed", error="boom")
    registry.start_run("b", "r1", kind="refresh")
    registry.update_run("b", "r1", outcome="failed", error="boom")
    registry.record_published_data("c", rows=1, checksum="x", fingerprint_path=None, refreshed=True)
    registry.record_watermark("c", "2026-10-30T12:00:00")
    registry.record_watermark("d", "12345")  # a numeric watermark is not a date
    store = AlertStore(registry)
    successes = store.last_successes()
    assert set(successes) == {"a", "c"}
    assert successes["a"] == registry.runs("a")[0].ended_at
    assert successes["c"] == registry.get_state("c").last_refresh_at
    assert store.watermarks() == {"c": dt.datetime(2026, 10, 30, 12, tzinfo=dt.UTC)}
    assert store.newest_data() == {}  # until the run log records newest_data_at


def test_comment_watch_round_trip_and_marking_answered(registry):
    store = AlertStore(registry)
    with pytest.raises(NotWatched):
        store.mark_comment_answered("a", by="jorge-ramos")
    waiting = CommentWatch("a", 3, T0, pending_since=T0, notified_at=T0)
    store.save_comment_states([waiting, CommentWatch("b", 0, T0)])
    assert store.comment_states() == {"a": waiting, "b": CommentWatch("b", 0, T0)}
    answered = store.mark_comment_answered("a", by="jorge-ramos", at=T0 + H)
    assert store.comment_states()["a"] == answered
    assert (answered.pending_since, answered.answered_at, answered.answered_by) == (None, T0 + H, "jorge-ramos")


def test_tables_live_beside_the_registry_s_own(registry):
    AlertStore(registry)
    names = set(sa.inspect(registry.engine).get_table_names())
    assert {"opendata_freshness_alert", "opendata_comment_watch", "opendata_dataset_state"} <= names
