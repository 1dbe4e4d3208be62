"""Which archived versions may be removed (pure)."""

from __future__ import annotations

import datetime as dt

from opendata.lifecycle.history import expired
from opendata.registry import PublishedVersion

NOW = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def version(run: str, kind: str, days_ago: int) -> PublishedVersion:
    return PublishedVersion("d", run, kind, NOW - dt.timedelta(days=days_ago), 10, "c", f"/a/{run}.parquet", None)


def runs(versions) -> list[str]:
    return [v.run_id for v in versions]


def test_whole_segments_past_retention_go_and_the_newest_stays():
    versions = [version("f1", "full", 400), version("i1", "incremental", 390), version("f2", "full", 380),
                version("i2", "incremental", 10), version("f3", "full", 5)]
    assert runs(expired(versions, retention_days=365, now=NOW)) == ["f1", "i1"]


def test_a_segment_with_a_recent_increment_is_kept_whole():
    versions = [version("f1", "full", 400), version("i1", "incremental", 30), version("f2", "full", 5)]
    assert expired(versions, retention_days=365, now=NOW) == []


def test_the_only_version_is_never_removed():
    assert expired([version("f1", "full", 4000)], retention_days=1, now=NOW) == []
