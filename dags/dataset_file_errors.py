"""Surfaces broken dataset files as an Airflow import error (this file defines no DAG).

Each broken file is reported with its path, line, field and a "did you mean" hint, while
dags/datasets*.py still build the DAGs of every valid file. It also records, in the state
folder, which file holds each dataset id, so a second file reusing an id never takes over the
established DAG. Run `opendata lint` for the same report on the command line.
"""

import time

started = time.monotonic()  # the parse budget counts the package's import too (see the factory)

from opendata.dag_factory import raise_for_broken_files  # noqa: E402

raise_for_broken_files(started=started)
