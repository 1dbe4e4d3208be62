#!/bin/sh
# The pre-commit hook's command (.pre-commit-config.yaml): `opendata lint` on the dataset files a
# commit changes, from the project's environment when `make setup-dev` made one, else the
# `opendata` on PATH (an environment of the engineer's own).
if [ -x .venv/bin/opendata ]; then
    exec .venv/bin/opendata lint --include include "$@"
fi
exec opendata lint --include include "$@"
