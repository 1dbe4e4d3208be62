"""Resolve a dataset at task run time.

Tasks re-read the dataset file when they run (the worker has the same include folder as the
DAG processor), so the DAG itself only carries the dataset id. A file that broke since the
DAG was parsed fails the task with the same message lint would print.
"""

from __future__ import annotations

from opendata import settings
from opendata.registry.stage_snapshot import read_dataset_files
from opendata.spec.dataset import DatasetSpec
from opendata.spec.errors import SpecError, SpecFileError
from opendata.spec.loader import dataset_file_for, load_dataset, load_governance


def load_spec(dataset_id: str) -> DatasetSpec:
    include = settings.include_dir()
    governance, errors = load_governance(settings.governance_file())
    # The file the DAG was built from: when two files claim the id, the one holding it.
    path = dataset_file_for(dataset_id, include, read_dataset_files())
    if path is not None:
        spec, file_errors = load_dataset(path, governance, include)
        if spec is None:
            raise SpecFileError(errors + file_errors)
        return spec
    raise SpecFileError([SpecError(include / "datasets", (), f"no dataset file for {dataset_id!r}")])
