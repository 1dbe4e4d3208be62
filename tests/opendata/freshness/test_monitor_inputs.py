"""The monitor's inputs, injected: which datasets it judges (files + registry) and the data's own
newest date (the registry's confirmed watermark when it is the file's newest_date_column)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from opendata import settings
from opendata.freshness.alert_store import AlertStore
from opendata.freshness.crosscheck import FindingKind
from opendata.freshness.monitor import MonitorSettings, World, check_freshness, evaluate_now
from opendata.freshness.sources import DatasetFiles, load_dataset_files
from opendata.portal.models import AssetFreshness, Audience
from opendata.registry import Registry
from opendata.samples.portal_world import dataset_file
from opendata.spec.dataset import DatasetSpec
from opendata.spec.loader import load_governance
from opendata.spec.validate import _FastLoader
from opendata.spec.validate import plain_yaml as load_yaml

NOW = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


class FakeHook:
    """The two reads the monitor makes, answered from a dict (portal id -> dataUpdatedAt)."""

    def __init__(self, updated: dict[str, dt.datetime]):
        self.updated = updated
        self.calls: list[tuple] = []

    def list_asset_freshness(self, ids, *, batch_size=100, **kwargs):
        self.calls.append(("catalog", tuple(ids), batch_size))
        return {i: AssetFreshness(i, None, self.updated[i], None, Audience.PUBLIC) for i in ids if i in self.updated}

    def close(self):
        pass


def spec(dataset_id: str, **changes) -> DatasetSpec:
    doc = dataset_file(dataset_id, "sanitation", "daily")
    doc.update(changes)
    return DatasetSpec.model_validate(doc)


def test_judged_datasets_come_from_the_files_and_the_registry(tmp_path):
    governance, _ = load_governance(settings.governance_file())
    watermarked = {"source": {"kind": "file", "path": "x.csv", "watermark": "recorded_on"},
                   "freshness": {"newest_date_column": "recorded_on"}}
    specs = {s.id: s for s in (spec("ds-a", **watermarked), spec("ds-b"), spec("ds-private"), spec("ds-retired"),
                               spec("ds-no-portal-id"))}
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    for dataset_id, portal_id in (("ds-a", "aaaa-1111"), ("ds-b", "bbbb-2222"), ("ds-private", "cccc-3333"),
                                  ("ds-retired", "dddd-4444")):
        registry.record_portal_dataset(dataset_id, portal_id)
    for dataset_id in ("ds-a", "ds-b", "ds-retired", "ds-no-portal-id", "ds-no-file"):
        registry.record_public(dataset_id, at=NOW)
    registry.record_retirement("ds-retired", reason="replaced", approved_by="maria-alvarez")
    registry.record_watermark("ds-a", "2026-09-30T00:00:00")
    hook = FakeHook({"aaaa-1111": NOW - dt.timedelta(hours=2), "bbbb-2222": NOW - dt.timedelta(days=9)})
    sent = []
    world = World(registry=registry, alerts=AlertStore(registry), files=DatasetFiles(governance, specs), hook=hook,
                  send=lambda message, **kw: sent.append(message))

    evaluations = {ev.dataset.dataset_id: ev for ev in evaluate_now(world, MonitorSettings(), NOW)}
    assert sorted(evaluations) == ["ds-a", "ds-b"]  # public, with a portal id and a valid file
    assert hook.calls == [("catalog", ("aaaa-1111", "bbbb-2222"), 200)]
    fresh_but_old = evaluations["ds-a"]
    assert fresh_but_old.state.value == "fresh"
    assert [f.kind for f in fresh_but_old.findings] == [FindingKind.UPDATED_OUTSIDE_PIPELINE,
                                                        FindingKind.CONTENT_STALE]
    assert "The newest recorded_on in the data is 2026-09-29" in fresh_but_old.findings[1].message

    report = check_freshness(MonitorSettings(slack_conn_id=None), world=world, now=NOW)
    assert (report.overdue, report.reminded, report.disagreements) == (["ds-b"], ["ds-b"], ["ds-a"])
    assert [m.event for m in sent] == ["freshness_due", "overdue_digest"]
    assert "Not overdue, but the monitor's checks disagree (1):" in sent[1].text
    registry.close()


def test_a_broken_file_is_skipped_not_fatal(tmp_path):
    include = tmp_path / "include"
    (include / "datasets" / "sanitation").mkdir(parents=True)
    (include / "governance.yaml").write_text(settings.governance_file().read_text())
    (include / "datasets" / "sanitation" / "good.yaml").write_text(
        yaml.safe_dump(dataset_file("good", "sanitation", "daily")))
    (include / "datasets" / "sanitation" / "broken.yaml").write_text("id: broken\nupdate_frequency: dialy\n")
    (include / "datasets" / "sanitation" / "misnamed.yaml").write_text(
        yaml.safe_dump(dataset_file("other-name", "sanitation", "daily")))
    assert sorted(load_dataset_files(include).specs) == ["good"]


def test_a_pipe_a_huge_file_or_a_second_claimant_cannot_stall_or_mislead_the_monitor(tmp_path, monkeypatch):
    import os

    include = tmp_path / "include"
    (include / "datasets" / "sanitation").mkdir(parents=True)
    (include / "datasets" / "building-and-safety").mkdir(parents=True)
    (include / "governance.yaml").write_text(settings.governance_file().read_text())
    (include / "datasets" / "sanitation" / "good.yaml").write_text(
        yaml.safe_dump(dataset_file("good", "sanitation", "daily")))
    os.mkfifo(include / "datasets" / "sanitation" / "piped.yaml")  # reading it would block forever
    (include / "datasets" / "sanitation" / "huge.yaml").write_text(
        yaml.safe_dump(dataset_file("huge", "sanitation", "daily")) + "#" * 2_000_000)
    # A newcomer reusing the id, sorted first by path: the file holding the id is the dataset.
    (include / "datasets" / "building-and-safety" / "good.yaml").write_text(
        yaml.safe_dump(dataset_file("good", "building-and-safety", "weekly")))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    from opendata.registry.stage_snapshot import record_dataset_files

    record_dataset_files({"good": "sanitation/good.yaml"})  # as the DAG processor records it
    files = load_dataset_files(include)
    assert sorted(files.specs) == ["good"]
    assert files.specs["good"].department == "sanitation"


_ODD_DOCUMENTS = [
    "",  # an empty file
    "id: a\nn: 12\nf: 1.5e3\nyes_no: [yes, No, true, off]\nnothing: ~\nempty:\noctal: 0o17\nhex: 0x1F\n",
    "start_date: 2020-01-01\nwhen: 2020-01-01T10:00:00Z\n",  # dates stay text, as for pydantic
    "base: &b {due_after: {count: 3, period: day}}\nfreshness:\n  <<: *b\n  overdue_after: {count: 7}\n",
    "tags: &t [a, b]\nagain: *t\n",
    "explicit: !!str 123\nnumber: !!int '7'\nbinary: !!binary aGVsbG8=\nset: !!set {a, b}\n",
    "dup: 1\ndup: 2\n",
    "? [a, b]\n: unhashable key\n",
    "= : the value key\n",
    "1: int key\n2.5: float key\nnull: null key\ntrue: bool key\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\nquoted: '010'\n",
]


def _both(text: str):
    """(what load_yaml gives or raises, what PyYAML's constructor gives or raises)."""
    outcomes = []
    for load in (load_yaml, lambda t: yaml.load(t, Loader=_FastLoader)):
        try:
            outcomes.append(("value", load(text)))
        except yaml.YAMLError as exc:
            outcomes.append(("error", type(exc).__name__))
    return outcomes


@pytest.mark.parametrize("text", _ODD_DOCUMENTS)
def test_the_plain_walk_reads_documents_as_pyyaml_does(text):
    new, standard = _both(text)
    assert new == standard


def test_the_plain_walk_reads_the_bundled_and_synthetic_dataset_files_as_pyyaml_does():
    root = Path(__file__).resolve().parents[3] / "include" / "datasets"
    texts = [path.read_text() for path in sorted(root.glob("*/*.yaml"))]
    texts.append(yaml.safe_dump(dataset_file("monitor-test-001", "sanitation", "daily",
                                             {"due_after": {"count": 30, "period": "day"}}), sort_keys=False))
    assert len(texts) >= 4
    for text in texts:
        new, standard = _both(text)
        assert new == standard and new[0] == "value" and new[1]["id"]


def test_a_pass_leaves_the_garbage_collector_as_it_found_it():
    import gc

    from opendata.freshness.monitor import _long_lived_frozen

    assert gc.get_freeze_count() == 0
    with _long_lived_frozen():
        assert gc.get_freeze_count() > 0  # what was alive is left out of full collections...
    assert gc.get_freeze_count() == 0  # ...until the pass ends
    gc.freeze()  # someone else's freeze (before a fork): neither added to nor undone
    try:
        # Frozen objects can still be freed by reference counting (under xdist one was, between
        # two reads), so the count may fall a little; it must neither grow nor drop to nothing.
        frozen = gc.get_freeze_count()
        with _long_lived_frozen():
            assert frozen // 2 < gc.get_freeze_count() <= frozen
        assert frozen // 2 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
