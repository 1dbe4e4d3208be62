"""Surfaces broken dataset files as an Airflow import error (this file defines no DAG).

Each broken file is reported with its path, line, field and a "did you mean" hint, while
dags/datasets.py still builds the DAGs of every valid file. Run `opendata lint` for the same
report on the command line.
"""

from opendata.lifecycle.factory import raise_for_broken_files

raise_for_broken_files()
