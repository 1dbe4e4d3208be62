"""A dataset task's inputs are read once per task: the dataset file, governance.yaml, the
registry, the portal hook (issue 15). The real DAG runs against the portal emulator and counts
what each task opened and built; the units check the bundle, the staged extract's XCom boundary,
the sync arguments and the portal connection every task takes."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from opendata.lifecycle.inputs import NotRecordedYet, TaskInputs
from opendata.lifecycle.tasks import (
    AWAIT_APPROVAL_TASK_ID,
    GO_PUBLIC_TASK_ID,
    PUSH_PRIVATE_TASK_ID,
    REVIEW_APPROVED,
)
from opendata.portal.config import DEFAULT_CONN_ID
from tests.opendata.lifecycle.conftest import world  # noqa: F401 - the publication world fixture

DATASET = "restaurant-inspections"   # Step 1 recorded in its file: no human task in dag.test()
GOVERNANCE = "governance.yaml"


@pytest.fixture
def portal_mode() -> str:
    """The emulator as written is enough here (the publication tests run both modes)."""
    return "lenient"


class Tally:
    """What each task of a ``dag.test()`` run opened and built, by task id. Only the test's own
    thread counts (the reviewer thread reads the registry, and Airflow's current context is a
    process-wide stack)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]):
        self.thread = threading.get_ident()
        self.files = {os.path.realpath(path): name for name, path in files.items()}
        self.counts: Counter[tuple[str | None, str]] = Counter()
        real_open = os.open

        def counting_open(path, *args, **kwargs):
            name = self.files.get(os.path.realpath(os.fspath(path))) if str(path).endswith(".yaml") else None
            if name is not None:
                self.count(name)
            return real_open(path, *args, **kwargs)

        # Every dataset and governance file is opened with os.open (opendata.spec.reading); a
        # plain open() would be counted too.
        monkeypatch.setattr(os, "open", counting_open)
        import builtins
        import io

        real_builtin_open = builtins.open

        def counting_builtin_open(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and str(file).endswith(".yaml"):
                name = self.files.get(os.path.realpath(os.fspath(file)))
                if name is not None:
                    self.count(name)
            return real_builtin_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", counting_builtin_open)
        monkeypatch.setattr(io, "open", counting_builtin_open)

    def count(self, what: str) -> None:
        if threading.get_ident() != self.thread:
            return
        self.counts[(current_task_id(), what)] += 1

    def wrap_init(self, monkeypatch: pytest.MonkeyPatch, cls: type, what: str) -> None:
        real_init = cls.__init__

        def counting_init(instance, *args, **kwargs):
            self.count(what)
            real_init(instance, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting_init)

    def of(self, task_id: str) -> dict[str, int]:
        return {what: n for (task, what), n in self.counts.items() if task == task_id}


def current_task_id() -> str | None:
    from airflow.sdk import get_current_context

    try:
        return get_current_context()["ti"].task_id
    except Exception:  # noqa: BLE001 - outside a task
        return None


@pytest.mark.postgres
def test_push_private_reads_each_file_once_and_go_public_builds_one_hook_and_registry(world, monkeypatch):  # noqa: F811
    from opendata import settings
    from opendata.portal.hook import SocrataHook
    from opendata.registry import Registry

    dataset_file = next((world.include / "datasets").glob(f"*/{DATASET}.yaml"))
    assert settings.governance_file().name == GOVERNANCE
    tally = Tally(monkeypatch, {"dataset file": dataset_file, GOVERNANCE: settings.governance_file()})
    tally.wrap_init(monkeypatch, SocrataHook, "hook")
    tally.wrap_init(monkeypatch, Registry, "registry")

    reviewer = world.review_when_pending(DATASET, "approved", notes="Looks good")
    run = world.dag(DATASET).test(logical_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    reviewer.join(5)
    assert reviewer.failures == []
    assert run.state == "success"
    assert len(world.mail("Stage 1")) == 1 and len(world.mail("public")) == 1  # the tasks did their work

    push = tally.of(PUSH_PRIVATE_TASK_ID)
    assert push.get("dataset file") == 1, push
    assert push.get(GOVERNANCE) == 1, push
    assert push.get("hook") == 1 and push.get("registry") == 1, push
    go_public = tally.of(GO_PUBLIC_TASK_ID)
    assert go_public.get("hook") == 1 and go_public.get("registry") == 1, go_public
    assert go_public.get("dataset file") == 1 and go_public.get(GOVERNANCE) == 1, go_public
    # The sensor's executions (before and after the deferral) each read and build at most once.
    executions = 2
    wait = tally.of(AWAIT_APPROVAL_TASK_ID)
    assert all(n <= executions for n in wait.values()), wait


# --- the bundle -------------------------------------------------------------------------------------


def test_the_bundle_reads_nothing_until_asked_then_each_file_once(monkeypatch):
    import opendata.spec.validate as validate

    opened: list[str] = []
    real = validate.read_config_text
    monkeypatch.setattr(validate, "read_config_text",
                        lambda path, *a, **k: opened.append(Path(path).name) or real(path, *a, **k))
    inputs = TaskInputs("building-permits")
    assert opened == []
    assert inputs.spec.id == "building-permits" and inputs.spec is inputs.spec
    assert inputs.governance is inputs.governance and inputs.loaded_governance is inputs.governance
    assert sorted(opened) == sorted([GOVERNANCE, "building-permits.yaml"])


def test_the_bundle_is_frozen_and_knows_its_connection():
    from dataclasses import FrozenInstanceError

    inputs = TaskInputs("building-permits", "socrata_other")
    with pytest.raises(FrozenInstanceError):
        inputs.dataset_id = "other"  # type: ignore[misc]
    assert inputs.hook.socrata_conn_id == "socrata_other"
    assert inputs.hook is inputs.hook
    assert TaskInputs("building-permits").socrata_conn_id == DEFAULT_CONN_ID


def test_the_portal_id_of_a_dataset_the_registry_does_not_know_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.sqlite'}")
    with pytest.raises(NotRecordedYet, match="building-permits"):
        TaskInputs("building-permits").portal_id  # noqa: B018 - the property is the call


def test_the_staged_extract_crosses_xcom_as_a_dict_and_comes_back_as_the_object():
    from opendata.sources.stage import StagedExtract

    staged = StagedExtract("building-permits", "/staging/x.parquet", 3, "c0ffee", 100, 0.5, [], {"bad": 0},
                           since="2026-11-01", watermark="2026-11-02")
    ti = SimpleNamespace(xcom_pull=lambda task_ids, **kw: {**staged.as_dict(), "added_later": 1}
                         if task_ids == "extract" else None)
    inputs = TaskInputs("building-permits", ti=ti)  # type: ignore[arg-type]
    assert inputs.staged == staged and inputs.staged is inputs.staged
    with pytest.raises(RuntimeError, match="staged nothing"):
        TaskInputs("building-permits", ti=SimpleNamespace(xcom_pull=lambda **kw: None)).staged  # type: ignore[arg-type]  # noqa: B018


def test_one_function_builds_the_sync_arguments_from_the_registry_state():
    from opendata.lifecycle.sync import SyncArguments, sync_arguments
    from opendata.sources.stage import StagedExtract

    staged = StagedExtract("d", "/s/x.parquet", 3, "new", 100, 0.5, [], {})
    assert sync_arguments(None, staged) == SyncArguments(Path("/s/x.parquet"), "new", incremental=False)
    state = SimpleNamespace(fingerprint_path="/fp/d.arrow", published_rows=7, published_checksum="old", adopted=False)
    increment = StagedExtract("d", "/s/x.parquet", 3, "new", 100, 0.5, [], {}, since="5")
    assert sync_arguments(state, increment) == SyncArguments(  # type: ignore[arg-type]
        Path("/s/x.parquet"), "new", incremental=True, previous_fingerprint=Path("/fp/d.arrow"), published_rows=7,
        published_checksum="old")
    # Adopted and never loaded by the pipeline: compared with the portal's rows; once loaded, as usual.
    adopted = SimpleNamespace(fingerprint_path=None, published_rows=40, published_checksum=None, adopted=True)
    assert sync_arguments(adopted, staged).compare_portal_rows is True  # type: ignore[arg-type]
    loaded = SimpleNamespace(fingerprint_path=None, published_rows=40, published_checksum="c1", adopted=True)
    assert sync_arguments(loaded, staged).compare_portal_rows is False  # type: ignore[arg-type]


def test_sync_modes_are_an_enum_and_travel_as_text():
    from opendata.lifecycle.sync import SyncMode, SyncResult

    result = SyncResult(SyncMode.UPSERT, 3, 1, 2, 1, 0, 0, 0, 1, None, 3)
    assert result.as_dict()["mode"] == "upsert" and type(result.as_dict()["mode"]) is str
    assert SyncMode("held") is SyncMode.HELD


def test_the_registry_records_the_review_state_the_tasks_compare_with(tmp_path):
    from opendata.registry import Registry

    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    try:
        registry.record_submission("d", at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
        registry.record_review("d", approved=True, by="cdo", at=None, notes=None)
        assert registry.get_state("d").review_state == REVIEW_APPROVED
    finally:
        registry.close()


# --- the portal connection ---------------------------------------------------------------------------


def dataset_dag(**kwargs):
    from opendata.dag_factory import build_dag
    from opendata.spec.loader import load_catalog
    from tests.conftest import REPO_ROOT

    catalog = load_catalog(REPO_ROOT / "include")
    return build_dag(catalog.get("building-permits"), governance=catalog.governance, **kwargs)


def test_every_task_takes_the_portal_connection_default_unchanged():
    default = dataset_dag()
    assert {task.task_id: task.socrata_conn_id for task in default.tasks} == \
        {task.task_id: DEFAULT_CONN_ID for task in default.tasks}
    other = dataset_dag(socrata_conn_id="socrata_staging")
    for task in other.tasks:
        assert task.socrata_conn_id == "socrata_staging", task.task_id
        assert "socrata_conn_id" in task.template_fields, task.task_id
        context = {"ti": None}
        assert task.task_inputs(context).hook.socrata_conn_id == "socrata_staging", task.task_id


def test_the_sensor_polls_through_its_connection(monkeypatch):
    from opendata.lifecycle.context import load_spec
    from opendata.triggers.approval import PublicApprovalTrigger

    sensor = dataset_dag(socrata_conn_id="socrata_staging").get_task(AWAIT_APPROVAL_TASK_ID)
    deferred = []
    monkeypatch.setattr(sensor, "defer", lambda *, trigger, method_name: deferred.append(trigger))
    state = SimpleNamespace(portal_id="abcd-1234", submitted_at=dt.datetime.now(dt.UTC))
    inputs = SimpleNamespace(spec=load_spec("building-permits"), state=state,
                             registry=SimpleNamespace(get_state=lambda dataset_id: state))
    sensor._wait(inputs, {})
    (trigger,) = deferred
    assert isinstance(trigger, PublicApprovalTrigger)
    assert trigger.conn_id == "socrata_staging" and trigger.portal_id == "abcd-1234"
