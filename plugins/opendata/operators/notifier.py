"""The dataset DAG's notifier for callbacks: it knows only the dataset id when the DAG is
built, and gets the dataset and governance files at run time.

A HITL operator hands it its task's :class:`TaskInputs` before it is invoked (the files the
task read already); a failure callback, which runs after the task, reads them itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opendata.notify.events import NotificationEvent
from opendata.notify.notifier import OpenDataNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs
    from opendata.spec.dataset import DatasetSpec
    from opendata.spec.governance import Governance


class DatasetNotifier(OpenDataNotifier):
    """:class:`OpenDataNotifier` about the dataset ``dataset_id`` (templated), read when invoked.

    :param inputs: the running task's inputs (their files are used, not read again); else the
        files are read when the notifier is invoked
    """

    template_fields: Sequence[str] = ("dataset_id", *OpenDataNotifier.template_fields)

    def __init__(self, event: NotificationEvent | str, dataset_id: str, details: Mapping[str, Any] | None = None,
                 *, inputs: TaskInputs | None = None, **kwargs: Any):
        super().__init__(event, details=details, **kwargs)
        self.dataset_id = dataset_id
        self.inputs = inputs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event={self.event.value!r}, dataset_id={self.dataset_id!r})"

    def about(self, context: Context | Mapping[str, Any]) -> tuple[DatasetSpec, Governance]:
        from opendata.lifecycle.inputs import TaskInputs

        inputs = self.inputs if self.inputs is not None and self.inputs.dataset_id == self.dataset_id \
            else TaskInputs(self.dataset_id)
        return inputs.spec, inputs.governance
