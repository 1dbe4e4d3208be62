"""Airflow DAGs, one per dataset file under include/datasets/<department>/<dataset id>.yaml:
this file builds the ids of shard 0; dags/datasets_1.py ... datasets_7.py build the others.

Thin on purpose: the factory in the opendata package does the work. Files that fail
validation are skipped here and reported by dags/dataset_file_errors.py. The dataset DAGs are
spread over eight DAG files because Airflow's import timeout applies to each file: building
5,000 DAGs in one would take half of it (opendata.lifecycle.factory.DATASET_DAG_FILES).
"""

from opendata.lifecycle.factory import build_shard_dags

globals().update(build_shard_dags(__file__))
