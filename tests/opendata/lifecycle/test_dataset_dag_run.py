"""A whole dataset DAG run with real Airflow (``dag.test()``) against the sample sources."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from opendata.lifecycle.factory import build_dag
from opendata.spec.loader import load_catalog


def test_building_permits_dag_runs_end_to_end(airflow_db, sample_connections, session_dir):
    dag = build_dag(load_catalog().get("building-permits"))
    run = dag.test()
    assert run.state == "success"
    staged = sorted(Path(session_dir, "state", "staging", "building-permits").glob("*/extract.parquet"))
    assert len(staged) == 1
    assert pq.read_metadata(staged[0]).num_rows == 4000
