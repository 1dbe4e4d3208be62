# The deployment image: Airflow 3.3.2 plus the project's pinned requirements and package.
# docker-compose.yaml builds it and mounts dags/, plugins/ and include/ over the copies here,
# so code edits need no rebuild; requirements changes do.
FROM apache/airflow:3.3.2-python3.11

USER root
# Nothing extra from the OS is needed: every dependency is a Python wheel.
USER airflow

COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
# Airflow itself is already in the image at the same pinned version; the rest comes from
# the same pins the tests ran against.
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt

# The project's package is installed in editable mode from /opt/airflow/plugins, the folder
# compose mounts, so the scheduler, DAG processor, triggerer and workers import the mounted code.
COPY --chown=airflow:0 pyproject.toml /opt/airflow/pyproject.toml
COPY --chown=airflow:0 plugins /opt/airflow/plugins
RUN pip install --no-cache-dir --no-deps -e /opt/airflow
