"""The pre-commit hook (.pre-commit-config.yaml): a commit that changes a dataset file runs
``opendata lint`` on it, through the real pre-commit in a throwaway git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PERMITS = Path("include/datasets/building-and-safety/building-permits.yaml")
REQUESTS = Path("include/datasets/sanitation/service-requests-311.yaml")


@pytest.fixture
def project(tmp_path):
    """A git repository holding the project's include folder, hook config and hook script, with the
    project's environment linked in as `.venv` (as `make setup-dev` leaves it)."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "include", root / "include",
                    ignore=shutil.ignore_patterns("sample_sources"))  # lint does not read the data
    (root / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "lint-hook.sh", root / "scripts" / "lint-hook.sh")
    shutil.copy(REPO / ".pre-commit-config.yaml", root / ".pre-commit-config.yaml")
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (root / ".gitignore").write_text(".venv\n", encoding="utf-8")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "GIT_AUTHOR_NAME": "Test",
           "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "test@example.org", "OPENDATA_DEMO_DIR": str(tmp_path / "no-demo"),
           "OPENDATA_STATE_DIR": str(tmp_path / "state")}
    env.pop("OPENDATA_INCLUDE_DIR", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=root, env=env, capture_output=True, text=True, timeout=300)

    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", ".").returncode == 0
    assert run("git", "commit", "-qm", "the include folder").returncode == 0
    installed = run(sys.executable, "-m", "pre_commit", "install")
    assert installed.returncode == 0, installed.stderr
    return root, run


def _edit(root: Path, path: Path, **changes) -> None:
    data = yaml.safe_load((root / path).read_text(encoding="utf-8"))
    data.update(changes)
    (root / path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_a_commit_with_a_broken_dataset_file_is_refused_naming_the_field(project):
    root, run = project
    _edit(root, PERMITS, update_frequency="every so often")
    run("git", "add", str(PERMITS))

    refused = run("git", "commit", "-qm", "a typo")

    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "opendata lint" in output and "building-permits.yaml" in output and "update_frequency" in output
    assert run("git", "log", "--oneline").stdout.count("\n") == 1  # nothing committed

    _edit(root, PERMITS, update_frequency="weekly")
    run("git", "add", str(PERMITS))
    accepted = run("git", "commit", "-qm", "weekly now")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_a_broken_file_the_commit_does_not_touch_is_counted_not_blocking(project):
    root, run = project
    _edit(root, REQUESTS, update_frequency="every so often")
    run("git", "add", str(REQUESTS))
    assert run("git", "commit", "-qm", "broken, committed past the hook", "--no-verify").returncode == 0

    _edit(root, PERMITS, name="Building Permits Issued")
    run("git", "add", str(PERMITS))
    hook = run(sys.executable, "-m", "pre_commit", "run", "--verbose")

    assert hook.returncode == 0, hook.stdout + hook.stderr
    assert "1 named file(s) checked: 0 error(s)" in hook.stdout
    assert "1 other file(s) have errors" in hook.stdout


def test_files_outside_the_include_folder_do_not_run_the_hook(project):
    root, run = project
    (root / "notes.yaml").write_text("update_frequency: every so often\n", encoding="utf-8")
    run("git", "add", "notes.yaml")
    hook = run(sys.executable, "-m", "pre_commit", "run")
    assert hook.returncode == 0
    assert "(no files to check)Skipped" in hook.stdout.replace(".", "")
