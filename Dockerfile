# The deployment image: Airflow 3.3.2 plus the project's pinned requirements, package, DAG files
# and dataset files. docker-compose.yaml runs every service from it with no shared volume (each
# service could be on another machine), so the code travels in the image: rebuild after a
# change (`docker compose build`), or serve dags/ from a git DAG bundle.
FROM apache/airflow:3.3.2-python3.11

USER root
# Nothing extra from the OS is needed: every dependency is a Python wheel. The folders each
# service keeps for itself: the per-machine caches, a worker's scratch (its own volume in
# compose), the portal emulator's state (its own volume).
RUN mkdir -p /opt/airflow/state /opt/airflow/scratch /opt/portal \
    && chown airflow:0 /opt/airflow/state /opt/airflow/scratch /opt/portal \
    && chmod g+rwx /opt/airflow/state /opt/airflow/scratch /opt/portal
USER airflow

COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
# Airflow itself is already in the image at the same pinned version; the rest comes from
# the same pins the tests ran against.
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt

# The project's package, installed from /opt/airflow/plugins (Airflow's plugins folder too).
COPY --chown=airflow:0 pyproject.toml /opt/airflow/pyproject.toml
COPY --chown=airflow:0 plugins /opt/airflow/plugins
RUN pip install --no-cache-dir --no-deps -e /opt/airflow
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 include /opt/airflow/include
