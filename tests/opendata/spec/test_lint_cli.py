"""`opendata lint` as pre-commit and CI run it: a real subprocess, exit codes and output."""

from __future__ import annotations

import subprocess
import sys

from tests.opendata.spec.conftest import GOOD_FILE, edit


def run_lint(include) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opendata", "lint", "--include", str(include)],
                          capture_output=True, text=True, timeout=120)


def test_lint_passes_on_the_repository_files(include_copy):
    result = run_lint(include_copy)
    assert result.returncode == 0, result.stderr
    # The bundled planned file (status: planned) is valid and counted apart: it builds no DAG.
    assert result.stdout.startswith("3 dataset file(s) valid, 1 planned, 0 error(s)")


def test_lint_names_file_field_and_hint_and_exits_non_zero(include_copy):
    path = include_copy / GOOD_FILE
    edit(path, "  row_identifier: sr_number", "  row_identifer: sr_number")
    result = run_lint(include_copy)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:41: publishing.row_identifer: unknown field (did you mean 'row_identifier'?)"
    ]
    assert result.stdout.startswith("2 dataset file(s) valid, 1 planned, 1 error(s) in 1 file(s)")
