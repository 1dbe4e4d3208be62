#!/usr/bin/env bash
# Run the whole test suite (`make test`; CI's .ci/run calls `make test`). Needs PostgreSQL on
# 127.0.0.1:5432 (trust auth): the tests use it for the Airflow metadata database and as a SQL
# source. Extra arguments go to pytest.
#
# The suite runs on OPENDATA_TEST_WORKERS pytest-xdist workers (default 2, about a fifth faster
# than one process on two cores; 0 runs it in this one process). Each worker has its own Airflow
# home and metadata database
# (tests/conftest.py); the tests that start a whole Airflow run one at a time on one worker, and a
# module sharing an emulator stays on one worker (tests/conftest.py, pytest_collection_modifyitems).
set -euo pipefail
cd "$(dirname "$0")/.."

host=${OPENDATA_TEST_PG_HOST:-127.0.0.1}
port=${OPENDATA_TEST_PG_PORT:-5432}
if ! .venv/bin/python - "$host" "$port" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
except OSError:
    sys.exit(1)
PY
then
  {
    echo "PostgreSQL is not reachable at $host:$port; start it (see README, 'Tests') and retry:"
    if [ -d /etc/postgresql ]; then
      echo "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n 1) main start"
    else
      echo "  docker run -d -p $port:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16"
    fi
    echo "or point the tests at another server with OPENDATA_TEST_PG_HOST / OPENDATA_TEST_PG_PORT (trust auth)."
  } >&2
  exit 2
fi

# The lint steps of `make lint`, before the tests: the dataset files, ruff, then mypy (the whole
# opendata package, strict on spec, portal and freshness; pyproject.toml). mypy keeps its cache in
# .mypy_cache: about 16 s on a clean clone (CI), under 2 s once the cache is there.
.venv/bin/opendata lint
.venv/bin/ruff check plugins dags tests bench
.venv/bin/mypy

workers=${OPENDATA_TEST_WORKERS:-2}
xdist=()
if [ "$workers" != 0 ]; then
  # loadgroup: the groups above stay together; the rest is balanced test by test, longest first.
  xdist=(-n "$workers" --dist loadgroup --no-loadscope-reorder)
fi
exec .venv/bin/pytest "${xdist[@]}" "$@"
