#!/usr/bin/env bash
# Run the whole test suite. Needs PostgreSQL on 127.0.0.1:5432 (trust auth): the tests use it
# for the Airflow metadata database and as a SQL source. Extra arguments go to pytest.
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
  echo "PostgreSQL is not reachable at $host:$port; start it (see README, 'Tests') and retry." >&2
  exit 2
fi

.venv/bin/opendata lint
exec .venv/bin/pytest "$@"
