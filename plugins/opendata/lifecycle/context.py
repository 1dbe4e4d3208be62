"""Resolve a dataset at task run time.

Tasks re-read the dataset file when they run (the worker has the same include folder as the
DAG processor), so the DAG itself only carries the dataset id. A file that broke since the
DAG was parsed fails the task with the same message lint would print.

A task reads each file once: :class:`opendata.lifecycle.inputs.TaskInputs` calls
:func:`read_governance` and :func:`read_dataset` once each and hands on what they return.
"""

from __future__ import annotations

from collections.abc import Sequence

from opendata import settings
from opendata.registry.stage_snapshot import read_dataset_files
from opendata.spec.dataset import DatasetSpec
from opendata.spec.errors import SpecError, SpecFileError
from opendata.spec.governance import Governance
from opendata.spec.loader import dataset_file_for, load_dataset, load_governance


def read_governance() -> tuple[Governance | None, list[SpecError]]:
    """governance.yaml (None and its errors when it is broken)."""
    return load_governance(settings.governance_file())


def valid_governance(governance: Governance | None, errors: Sequence[SpecError]) -> Governance:
    """The governance file, or the error lint would print for it."""
    if governance is None:
        raise SpecFileError(list(errors))
    return governance


def read_dataset(dataset_id: str, governance: Governance | None,
                 governance_errors: Sequence[SpecError] = ()) -> DatasetSpec:
    """The file holding ``dataset_id``, checked against ``governance`` (None: broken, then its
    ``governance_errors`` join the file's in the error); SpecFileError (lint's message) when the
    file is broken or missing."""
    include = settings.include_dir()
    # The file the DAG was built from: when two files claim the id, the one holding it.
    path = dataset_file_for(dataset_id, include, read_dataset_files())
    if path is None:
        raise SpecFileError([SpecError(include / "datasets", (), f"no dataset file for {dataset_id!r}")])
    spec, file_errors = load_dataset(path, governance, include)
    if spec is None:
        raise SpecFileError(list(governance_errors) + file_errors)
    return spec


def load_spec(dataset_id: str) -> DatasetSpec:
    """The dataset's spec alone (commands and tests; a task uses its TaskInputs)."""
    return read_dataset(dataset_id, *read_governance())
