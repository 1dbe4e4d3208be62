"""The program's catalog DAGs: data.json after each publication, the quarterly working-group
report e-mailed to the CDO and coordinators.

Thin on purpose: the opendata.catalog package builds the DAGs. (Airflow's safe-mode parsing
skips files that do not mention both "airflow" and "dag": this docstring does.)
"""

from opendata.catalog.dag import build_data_json_dag, build_quarterly_report_dag

data_json_dag = build_data_json_dag()
quarterly_report_dag = build_quarterly_report_dag()
