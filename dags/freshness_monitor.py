"""The freshness monitor, one Airflow DAG: overdue-refresh digest to the Chief Data Officer,
reminders to the departments, and the public comment watch (hourly by default;
OPENDATA_FRESHNESS_SCHEDULE).

Thin on purpose: the opendata.freshness package builds the DAG. (Airflow's safe-mode parsing
skips files that do not mention both "airflow" and "dag": this docstring does.)
"""

from opendata.freshness.dag import build_monitor_dag

dag = build_monitor_dag()
