"""Airflow DAGs of the dataset files whose ids fall in shard 6 (see dags/datasets.py)."""

from opendata.lifecycle.factory import build_shard_dags

globals().update(build_shard_dags(__file__))
