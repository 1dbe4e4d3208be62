"""`opendata lint` on many files: the files its parse cache does not hold are checked by worker
processes first, and the report is exactly the one a single process gives."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from opendata.spec import cache as cache_module
from opendata.spec.cache import ShardedParseCache
from opendata.spec.loader import dataset_files, load_catalog
from opendata.spec.prefill import MIN_FILES_PER_WORKER, prefill
from tests.opendata.spec.conftest import GOOD_FILE, edit

CLONES = 2 * MIN_FILES_PER_WORKER + 10


@pytest.fixture
def many(include_copy):
    """The samples and CLONES clones of the 311 file (new ids), two of them broken."""
    source = include_copy / GOOD_FILE
    text = source.read_text()
    for i in range(CLONES):
        clone = source.with_name(f"requests-{i:04d}.yaml")
        clone.write_text(text.replace("id: service-requests-311", f"id: requests-{i:04d}"))
    edit(source.with_name("requests-0007.yaml"), "update_frequency: daily", "update_frequency: dialy")
    edit(source.with_name("requests-0150.yaml"), "  row_identifier: sr_number", "  row_identifer: sr_number")
    return include_copy


def lines(catalog) -> tuple[list[str], list[str], list[str]]:
    return ([str(e) for e in catalog.errors], [str(w) for w in catalog.warnings],
            sorted(d.spec.id for d in catalog.datasets))


def test_workers_fill_the_cache_and_the_load_reports_the_same(many, tmp_path):
    # No result is kept of a file written in the last two seconds (cache.RACY_SECONDS), and the
    # workers are processes of their own: wait rather than patch the setting in this one.
    time.sleep(cache_module.RACY_SECONDS + 0.1)
    alone = lines(load_catalog(many))
    cache = ShardedParseCache.for_include(many, tmp_path / "state")
    files = dataset_files(many / "datasets")
    assert prefill(cache, files, many, workers=2) == len(files)
    catalog = load_catalog(many, cache=cache)
    assert cache.misses == 0 and cache.hits == len(files)
    assert lines(catalog) == alone
    assert len(alone[0]) == 2 and len(alone[2]) == 3 + CLONES - 2


def test_few_files_are_not_worth_workers(include_copy, tmp_path):
    cache = ShardedParseCache.for_include(include_copy, tmp_path / "state")
    assert prefill(cache, dataset_files(include_copy / "datasets"), include_copy, workers=2) == 0


def test_lint_output_is_the_same_with_workers_and_without_the_cache(many, tmp_path):
    def lint(**env):
        return subprocess.run([sys.executable, "-m", "opendata", "lint", "--include", str(many)],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OPENDATA_STATE_DIR": str(tmp_path / "lint-state"), **env})

    time.sleep(2.1)  # a lint process holds no result of a file written in the last two seconds
    cold = lint()
    warm = lint()  # every result from the cache the first run wrote
    uncached = lint(OPENDATA_PARSE_CACHE="0")
    assert cold.returncode == warm.returncode == uncached.returncode == 1
    assert cold.stderr == warm.stderr == uncached.stderr
    assert cold.stdout == warm.stdout == uncached.stdout
    assert "update_frequency" in cold.stderr and "row_identifer" in cold.stderr
