"""``opendata pools``: the ``socrata_writes`` pool created, then resized, in a real Airflow
metadata database (the test session's PostgreSQL one), the way the demo, the compose init
service and the distributed test call it: a separate process reading Airflow's configuration."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def opendata_pools(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opendata", "pools"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def pool_row(url: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT slots, include_deferred FROM slot_pool WHERE pool = 'socrata_writes'"
                                        )).first()
    finally:
        engine.dispose()


def test_creates_the_pool_then_resizes_it_and_is_idempotent(airflow_db):
    engine = sa.create_engine(airflow_db)
    try:
        with engine.begin() as conn:  # whatever an earlier test left
            conn.execute(sa.text("DELETE FROM slot_pool WHERE pool = 'socrata_writes'"))
    finally:
        engine.dispose()
    assert pool_row(airflow_db) is None

    created = opendata_pools(OPENDATA_SOCRATA_WRITE_SLOTS="")
    assert created.returncode == 0, created.stderr
    assert "created pool socrata_writes with 4 slot(s)" in created.stdout
    # Deferred tasks (a dataset waiting days for its review) hold no slot.
    assert tuple(pool_row(airflow_db)) == (4, False)

    resized = opendata_pools(OPENDATA_SOCRATA_WRITE_SLOTS="2")
    assert resized.returncode == 0, resized.stderr
    assert "resized pool socrata_writes from 4 to 2 slot(s)" in resized.stdout
    assert tuple(pool_row(airflow_db)) == (2, False)

    again = opendata_pools(OPENDATA_SOCRATA_WRITE_SLOTS="2")
    assert again.returncode == 0 and "has 2 slot(s) already" in again.stdout
    assert tuple(pool_row(airflow_db)) == (2, False)


@pytest.mark.parametrize("value", ["four", "0", "-3"])
def test_a_size_that_is_not_a_positive_number_is_refused_naming_the_variable(airflow_db, value):
    before = pool_row(airflow_db)
    refused = opendata_pools(OPENDATA_SOCRATA_WRITE_SLOTS=value)
    assert refused.returncode == 2
    assert f"OPENDATA_SOCRATA_WRITE_SLOTS: {value!r} is not a positive whole number" in refused.stderr
    assert pool_row(airflow_db) == before


def test_a_metadata_database_not_migrated_says_what_to_run(tmp_path):
    refused = opendata_pools(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert refused.returncode == 1
    assert "Airflow's metadata database cannot be used" in refused.stderr
    assert "airflow db migrate" in refused.stderr
