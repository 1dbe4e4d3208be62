"""Which DAG file builds a dataset id, and which parse cache holds its file's checked result.

Dataset DAGs are spread over DATASET_DAG_FILES DAG files (dags/datasets.py, dags/datasets_1.py,
...) by a hash of the id: Airflow's import timeout (dagbag_import_timeout, 30 s) applies per DAG
file, and its DAG processor parses several files at once, so no file holds a city. The parse
cache is kept per shard too: the DAG file of a shard, dags/dataset_file_errors.py (which checks
every file) and `opendata lint` read and write the same entries, so a file parsed by one is not
parsed again by the others.
"""

from __future__ import annotations

import zlib
from pathlib import Path

# Checking a new dataset file and building its DAG take about as long as Airflow takes to import
# and serialize two hand-written DAG files of 10 tasks (bench/parse_scale.py): in sixteen DAG files,
# 5,000 datasets are ~310 a file, a few seconds each, far from the 30 s timeout even on a busy
# machine; each DAG file also costs a process importing the package (~0.5 s), so not more.
DATASET_DAG_FILES = 16


def shard_of(dataset_id: str) -> int:
    """Which of the dataset DAG files builds this id (every file claiming the id: the same one)."""
    return zlib.crc32(dataset_id.encode("utf-8", "surrogateescape")) % DATASET_DAG_FILES


def shard_of_path(path: Path | str) -> int:
    """The shard of a dataset file: its name is its id."""
    return shard_of(Path(path).stem)


def shard_of_dag_file(dag_file: str) -> int:
    """dags/datasets.py is shard 0, dags/datasets_<k>.py shard k."""
    stem = Path(dag_file).stem
    number = 0 if stem == "datasets" else int(stem.removeprefix("datasets_"))
    if not 0 <= number < DATASET_DAG_FILES:
        raise ValueError(f"{dag_file}: only {DATASET_DAG_FILES} dataset DAG files build DAGs (datasets.py, "
                         f"datasets_1.py ... datasets_{DATASET_DAG_FILES - 1}.py)")
    return number


def shard_part(shard: int) -> str:
    """The name of a shard's parse cache (shared by every reader of that shard's files)."""
    return f"shard-{shard}-of-{DATASET_DAG_FILES}"
