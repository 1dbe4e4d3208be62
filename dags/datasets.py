"""Airflow DAGs, one per dataset file under include/datasets/<department>/<dataset id>.yaml:
this file builds the ids of shard 0; dags/datasets_1.py ... datasets_15.py build the others.

Thin on purpose: the factory in the opendata package does the work. Files that fail
validation are skipped here and reported by dags/dataset_file_errors.py. The dataset DAGs are
spread over sixteen DAG files because Airflow's import timeout applies to each file and its DAG
processor parses files in parallel: building 5,000 DAGs in one would take most of the timeout
(opendata.spec.shards.DATASET_DAG_FILES).
"""

import time

started = time.monotonic()  # the parse budget counts the package's import too (see the factory)

from opendata.dag_factory import build_shard_dags  # noqa: E402

globals().update(build_shard_dags(__file__, started))
