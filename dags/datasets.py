"""One Airflow DAG per dataset file under include/datasets/<department>/<dataset id>.yaml.

Thin on purpose: the factory in the opendata package does the work. Files that fail
validation are skipped here and reported by dags/dataset_file_errors.py.
"""

from opendata.lifecycle.factory import build_all_dags

globals().update(build_all_dags())
