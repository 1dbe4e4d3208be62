"""Airflow DAGs of the dataset files whose ids fall in shard 9 (see dags/datasets.py)."""

import time

started = time.monotonic()  # the parse budget counts the package's import too (see the factory)

from opendata.dag_factory import build_shard_dags  # noqa: E402

globals().update(build_shard_dags(__file__, started))
