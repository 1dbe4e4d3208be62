"""civic-opendata: a city's open-data publication workflow on Apache Airflow.

The package is importable the same way from the scheduler, DAG processor, triggerer,
workers, tests and the command line: it is installed (``pip install -e .``) and its
folder, ``plugins/``, is also on Airflow's ``sys.path``.
"""
