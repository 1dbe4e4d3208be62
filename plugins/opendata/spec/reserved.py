"""Dataset ids the project keeps for its own DAGs.

A dataset id is its DAG's id. Airflow keeps one DAG per id, so a dataset file named after one of
the project's DAGs (``opendata_freshness_monitor``) would replace it. Every DAG the project
defines outside dataset files uses the ``opendata_`` prefix (a test holds the dags/ folder to
it), and ids starting with ``opendata_`` or ``opendata-`` are refused for datasets, including
ones the project has not written yet.
"""

from __future__ import annotations

RESERVED_PREFIXES = ("opendata_", "opendata-")
RESERVED_IDS = frozenset({"opendata"})


def is_reserved(dataset_id: str) -> bool:
    lowered = dataset_id.lower()
    return lowered in RESERVED_IDS or lowered.startswith(RESERVED_PREFIXES)


def reserved_problem(dataset_id: str) -> str | None:
    if not is_reserved(dataset_id):
        return None
    return (f"{dataset_id!r} is reserved: ids starting with {' or '.join(repr(p) for p in RESERVED_PREFIXES)} "
            f"name the project's own DAGs (a dataset with one would replace that DAG); choose another id "
            f"and rename the file to match")
