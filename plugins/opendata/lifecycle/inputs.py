"""One dataset task's inputs, each read once per task: the dataset and governance files, the
registry and the dataset's state in it, the portal hook, the staged extract.

The operator base class builds one :class:`TaskInputs` when a task starts and hands it to the
library functions; nothing is read before it is needed (the plan task never opens the dataset
file, the finish task never builds a hook) and nothing twice. The dataset file is still read at
run time, not taken from the parse: a file that broke since the DAG was parsed fails the task
with lint's message (:mod:`opendata.lifecycle.context`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from opendata.lifecycle.context import read_dataset, read_governance, valid_governance
from opendata.lifecycle.tasks import EXTRACT_TASK_ID
from opendata.portal.config import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import RuntimeTaskInstanceProtocol

    from opendata.portal.hook import SocrataHook
    from opendata.registry import DatasetState, Registry
    from opendata.sources.stage import StagedExtract
    from opendata.spec.dataset import DatasetSpec
    from opendata.spec.errors import SpecError
    from opendata.spec.governance import Governance


class NotRecordedYet(RuntimeError):
    """A task that needs the dataset on the portal ran before the registry knew it there."""


@dataclass(frozen=True)
class TaskInputs:
    """What one execution of a dataset task reads before it acts (frozen; each part is read
    when first asked for, then kept for the rest of the task)."""

    dataset_id: str
    #: The Airflow connection of the portal (the operator's ``socrata_conn_id``).
    socrata_conn_id: str = DEFAULT_CONN_ID
    #: The running task instance, for XComs (None outside a task run, e.g. a unit test).
    ti: RuntimeTaskInstanceProtocol | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, dataset_id: str, context: Context, socrata_conn_id: str = DEFAULT_CONN_ID) -> TaskInputs:
        return cls(dataset_id, socrata_conn_id, context.get("ti"))

    # -- the files ------------------------------------------------------------------------------
    @cached_property
    def _governance_file(self) -> tuple[Governance | None, list[SpecError]]:
        return read_governance()

    @property
    def loaded_governance(self) -> Governance | None:
        """governance.yaml, or None when it is broken (for what may go on without it)."""
        return self._governance_file[0]

    @property
    def governance(self) -> Governance:
        """governance.yaml; SpecFileError (lint's message) when it is broken."""
        return valid_governance(*self._governance_file)

    @cached_property
    def spec(self) -> DatasetSpec:
        """The dataset file, read now (not at parse time) and checked against governance.yaml;
        SpecFileError (lint's message) when it broke since the DAG was parsed."""
        return read_dataset(self.dataset_id, *self._governance_file)

    # -- the registry ---------------------------------------------------------------------------
    @cached_property
    def registry(self) -> Registry:
        """The publication registry (an error naming the dataset when it cannot be reached)."""
        from opendata.registry import Registry

        return Registry.from_settings(dataset_id=self.dataset_id)

    @cached_property
    def state(self) -> DatasetState | None:
        """The dataset's state in the registry when the task first asked (None: never planned)."""
        return self.registry.get_state(self.dataset_id)

    def recorded_state(self, *, reread: bool = False) -> DatasetState:
        """The state of a dataset the registry knows (re-read when ``reread``: after this task's
        own writes); NotRecordedYet when it knows nothing of it."""
        state = self.registry.get_state(self.dataset_id) if reread else self.state
        if state is None:
            raise NotRecordedYet(f"{self.dataset_id} is not in the publication registry yet; the plan and "
                                 f"Stage 1 push tasks must run first")
        return state

    @property
    def portal_id(self) -> str:
        """The portal id the registry records; NotRecordedYet when there is none yet."""
        portal_id = self.recorded_state().portal_id
        if portal_id is None:
            raise NotRecordedYet(f"{self.dataset_id} has no portal dataset yet; the Stage 1 push must run first")
        return portal_id

    # -- the portal -----------------------------------------------------------------------------
    @cached_property
    def hook(self) -> SocrataHook:
        """The portal's hook, on the operator's connection: built once, when first used."""
        from opendata.lifecycle.runtime import portal_hook

        return portal_hook(self.socrata_conn_id)

    # -- what earlier tasks handed on -----------------------------------------------------------
    def xcom(self, task_id: str, key: str | None = None) -> Any:
        """The return value (or ``key``) an earlier task of this run pushed; None outside a run."""
        if self.ti is None:
            return None
        if key is None:
            return self.ti.xcom_pull(task_ids=task_id)
        return self.ti.xcom_pull(task_ids=task_id, key=key)

    @cached_property
    def staged(self) -> StagedExtract:
        """The extract task's staged extract (XCom carries its dict; converted here, once)."""
        from opendata.sources.staged import staged_from_xcom

        value = self.xcom(EXTRACT_TASK_ID)
        if not value:
            raise RuntimeError(f"{self.dataset_id}: the {EXTRACT_TASK_ID} task of this run staged nothing")
        return staged_from_xcom(value)
