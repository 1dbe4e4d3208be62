"""The type checker's promises stay kept (issue 15, item 4): mypy is strict on the dataset-file
schema, the portal client and the freshness monitor; every ``# type: ignore`` there names the
error it silences; `make lint` and the test script (CI) run it.

The configuration is read by mypy itself, as it reads it for a run: each module's effective
options are checked, so a glob that stops matching, a later override that relaxes a flag or an
``ignore_errors`` fails here, not only a deleted line.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest
from mypy.config_parser import parse_config_file
from mypy.errorcodes import IGNORE_WITHOUT_CODE
from mypy.main import define_options
from mypy.options import Options

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plugins" / "opendata"
STRICT_PACKAGES = ["spec", "portal", "freshness"]


def _strict_assignments() -> list[tuple[str, bool]]:
    """What ``--strict`` sets, as this mypy defines it (a new strict flag shows up here)."""
    return define_options()[2]


def _options() -> Options:
    options = Options()
    stderr = io.StringIO()
    parse_config_file(options, lambda: None, str(ROOT / "pyproject.toml"), io.StringIO(), stderr)
    assert stderr.getvalue() == "", stderr.getvalue()
    return options


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _strict_modules() -> list[Path]:
    return sorted(path for package in STRICT_PACKAGES for path in (PACKAGE / package).rglob("*.py"))


def test_mypy_checks_the_whole_package():
    options = _options()
    assert options.packages == ["opendata"]
    assert options.mypy_path == ["plugins"]


@pytest.mark.parametrize("package", STRICT_PACKAGES)
def test_every_module_of_the_strict_packages_gets_every_strict_flag(package):
    options = _options()
    modules = [path for path in _strict_modules() if path.is_relative_to(PACKAGE / package)]
    assert modules, f"no modules found under opendata.{package}"
    relaxed = {}
    for path in modules:
        module = options.clone_for_module(_module_name(path))
        wrong = [flag for flag, value in _strict_assignments() if getattr(module, flag) != value]
        if module.ignore_errors:
            wrong.append("ignore_errors")
        if module.follow_imports != "normal":
            wrong.append(f"follow_imports={module.follow_imports}")
        if IGNORE_WITHOUT_CODE.code not in module.enable_error_code:
            wrong.append("ignore-without-code not enabled")
        if wrong:
            relaxed[_module_name(path)] = wrong
    assert relaxed == {}


def test_the_check_would_see_a_module_outside_the_promise():
    """The other packages are checked, not strictly: the test above can tell the difference."""
    module = _options().clone_for_module("opendata.sources.sql")
    assert not module.disallow_untyped_defs and not module.ignore_errors


def _bare_ignores(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: comment`` of every ``# type: ignore`` without an error code (comments only)."""
    found = []
    with path.open("rb") as handle:
        for token in tokenize.tokenize(handle.readline):
            if token.type == tokenize.COMMENT and re.search(r"type:\s*ignore(?!\[)", token.string):
                found.append(f"{path.relative_to(root)}:{token.start[0]}: {token.string}")
    return found


def test_no_bare_type_ignore_in_the_strict_packages():
    assert [found for path in _strict_modules() for found in _bare_ignores(path)] == []


def test_the_bare_ignore_finder_finds_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("x: int = 'a'  # type: ignore\ny: int = 'b'  # type: ignore[assignment]\n")
    assert _bare_ignores(sample, tmp_path) == ["sample.py:1: # type: ignore"]


def test_make_lint_and_the_test_script_run_mypy():
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert lint is not None and "$(BIN)/mypy" in lint.group(1).split()
    script = (ROOT / "scripts" / "test.sh").read_text()
    steps = [line.strip() for line in script.splitlines()]
    assert ".venv/bin/mypy" in steps and ".venv/bin/ruff check plugins dags tests bench" in steps
    # Before the tests, so a type error stops CI (set -e) as a failing test would.
    assert steps.index(".venv/bin/mypy") < next(i for i, line in enumerate(steps) if "pytest" in line
                                                   and line.startswith("exec"))
    assert ".mypy_cache/" in (ROOT / ".gitignore").read_text().split()
