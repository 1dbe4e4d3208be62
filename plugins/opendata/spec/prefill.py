"""Checking many new or changed dataset files on every CPU, for `opendata lint`.

A DAG file parses its share of the files in the DAG processor, which already runs several DAG
files at once; `opendata lint` checks every file in one process, so on a cold parse cache it
would use one CPU. Here the files the cache has no current result for are parsed by worker
processes first, and their results kept in the cache; the load that follows (the same code as
without them) finds them there. Nothing is decided in the workers: a file they could not parse
(or one that changed meanwhile) is simply parsed again by the load, which reports it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any

from opendata.spec.cache import ParseCache, ShardedParseCache, code_version, file_key

log = logging.getLogger(__name__)

# Below this many files per worker, starting workers costs more than it saves.
MIN_FILES_PER_WORKER = 100


def prefill(cache: ParseCache | ShardedParseCache, files: list[Path], include: Path,
            workers: int | None = None) -> int:
    """Parse in worker processes the ``files`` that ``cache`` has no current result for, and keep
    their results in it; returns how many were kept (0 when too few to be worth workers)."""
    missing = [path for path in files if not cache.has(path, file_key(path))]
    available = workers or len(os.sched_getaffinity(0))
    workers = min(available, len(missing) // MIN_FILES_PER_WORKER)
    if workers < 2:
        return 0
    chunks = [(missing[k::workers], include) for k in range(workers)]
    kept = 0
    try:
        # forkserver, not fork: a process forked from one that runs threads (a test runner's, a
        # logging handler's) can inherit a lock held by another thread and wait on it forever (a
        # test hung so under pytest-xdist). The server starts clean, imports the loader once, and
        # forks the workers from there.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["opendata.spec.loader"])
        with context.Pool(workers) as pool:
            for results in pool.imap_unordered(_parse_chunk, chunks):
                for path, entry in results:
                    cache.adopt(Path(path), entry)
                    kept += 1
    except Exception as exc:  # noqa: BLE001 - the load parses whatever is missing itself
        log.info("Parallel check of the dataset files not used (%s): checking them one by one", exc)
    return kept


def _parse_chunk(task: tuple[list[Path], Path]) -> list[tuple[str, dict[str, Any]]]:
    from opendata.spec.loader import _parsed

    paths, include = task
    scratch = ParseCache(None, code_version())
    for path in paths:
        try:
            _parsed(path, include, scratch)
        except Exception:  # noqa: BLE001, S112 - left to the load, which reports it against the file
            continue
    return list(scratch.used.items())
