"""Each dataset file's checked result, kept between DAG parses: a file is parsed once per change.

Airflow's DAG processor imports the DAG files again and again, each time in a fresh process,
so a memo in memory would not survive; the result is kept on disk under the state folder, in
one JSON file per include folder and shard of dataset ids (opendata.spec.shards): the DAG file
of a shard, dags/dataset_file_errors.py and `opendata lint` share the entries, so each file
is parsed once per change, whichever of them meets it first. An entry holds what the file alone decides (its
typed model, or its own errors, and the lines of the fields checked against other files) and
is used only when all of these still match:

* the file: its resolved path, size, modification and change times (ns), inode and device
  (``ctime`` cannot be set back by tools that copy or restore times);
* the code: a digest of the spec package's source, the pydantic and PyYAML versions and the
  file limits, so an upgrade or a new check parses everything again.

A file changed in the last two seconds is not cached ("racy" timestamps, as git's index
handles them): a second write within the clock's resolution could otherwise go unseen.

What is cached is data, never code: the model is read back through pydantic's validation (every
validator runs again), and every check against other files, the file system and the clock runs
on each parse. A cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import orjson

from opendata.fileio import write_atomically

log = logging.getLogger(__name__)

RACY_SECONDS = 2.0

Key = list[Any]


def file_key(path: Path) -> Key | None:
    """What identifies the file's current content without reading it (None: it cannot be stat'ed)."""
    try:
        status = os.stat(path)
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    return key_of(real, status)


def key_of(real: str, status: os.stat_result) -> Key:
    return [real, status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev]


def is_racy(status: os.stat_result, now_ns: int | None = None) -> bool:
    now_ns = time.time_ns() if now_ns is None else now_ns
    return now_ns - max(status.st_mtime_ns, status.st_ctime_ns) < RACY_SECONDS * 1e9


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of everything that decides a file's checked result, besides the file."""
    import pydantic
    import yaml

    from opendata import settings

    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    sources = sorted(here.glob("*.py")) + [here.parent / "freshness" / "policy.py", here.parent / "settings.py"]
    for source in sources:
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    digest.update(f"{pydantic.VERSION} {yaml.__version__} {sys.version}".encode())
    digest.update(str(settings.max_dataset_file_bytes()).encode())
    return digest.hexdigest()[:32]


class ResultCache(Protocol):
    """What the loader reads and writes: a :class:`ParseCache`, or all shards' as one
    (:class:`ShardedParseCache`)."""

    def lookup(self, path: Path, key: Key | None) -> dict[str, Any] | None: ...

    def stale(self, path: Path) -> dict[str, Any] | None: ...

    def store(self, path: Path, key: Key, entry: dict[str, Any]) -> None: ...

    def remember(self, key: str, compute: Callable[[], Any]) -> Any: ...


class ParseCache:
    """Entries by file path; ``save()`` writes them back (atomically) when anything changed,
    keeping only the files looked up in this parse, so deleted files drop out."""

    def __init__(self, location: Path | None, version: str):
        self.location = location
        self.version = version
        self.entries: dict[str, dict[str, Any]] = {}
        self.used: dict[str, dict[str, Any]] = {}
        # Results of pure checks of other files' text (a SQL query file), by a key of that text.
        self.memo: dict[str, Any] = {}
        self.memo_used: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0
        self._dirty = False
        if location is not None:
            self.entries, self.memo = _read(location, version)

    @classmethod
    def for_include(cls, include: Path, state: Path, part: str = "all") -> ParseCache:
        """The cache of ``include``'s files for one DAG file (``part``): each DAG file reads and
        writes its own, so two DAG processor subprocesses never write the same cache file."""
        name = hashlib.sha256(os.path.realpath(include).encode()).hexdigest()[:16]
        return cls(state / "parse-cache" / f"{name}-{part}.json", code_version())

    def lookup(self, path: Path, key: Key | None) -> dict[str, Any] | None:
        entry = self.entries.get(str(path)) if key is not None else None
        if entry is not None and entry.get("key") == key:
            self.used[str(path)] = entry
            self.hits += 1
            return entry
        self.misses += 1
        return None

    def has(self, path: Path, key: Key | None) -> bool:
        """Whether a current result for ``path`` is kept (not counted as a lookup)."""
        entry = self.entries.get(str(path)) if key is not None else None
        return entry is not None and entry.get("key") == key

    def adopt(self, path: Path, entry: dict[str, Any]) -> None:
        """A result (with its key) parsed by another process, as if read from the cache file."""
        self.entries[str(path)] = entry
        self.used[str(path)] = entry
        self._dirty = True

    def stale(self, path: Path) -> dict[str, Any] | None:
        """The entry kept for ``path`` whatever its key (the file changed since): for a parse that
        has no time left to parse it again. Kept for the next parse, which checks the file."""
        entry = self.entries.get(str(path))
        if entry is not None:
            self.used[str(path)] = entry
        return entry

    def store(self, path: Path, key: Key, entry: dict[str, Any]) -> None:
        self.used[str(path)] = {**entry, "key": key}
        self._dirty = True

    def remember(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``'s JSON-able result, kept under ``key`` (which must change with its input)."""
        if key in self.memo_used:
            pass  # met earlier in this parse (5,000 clones of a department's query share one key)
        elif key in self.memo:
            self.memo_used[key] = self.memo[key]
        else:
            self.memo_used[key] = compute()
            self._dirty = True
        return self.memo_used[key]

    def save(self) -> None:
        unchanged = set(self.used) == set(self.entries) and set(self.memo_used) == set(self.memo)
        if self.location is None or (not self._dirty and unchanged):
            return
        try:
            # orjson: the caches of 5,000 files are ~40 MB of JSON, read on every parse; a parse
            # running at the same time reads the old or the new file, never half.
            write_atomically(self.location,
                             _dumps({"version": self.version, "files": self.used, "memo": self.memo_used}))
        except OSError as exc:
            log.info("Dataset file parse cache not written (%s): every parse reads every file", exc)


class ShardedParseCache:
    """The parse caches of every shard of an include folder, as one: a file's entry is looked up
    in (and stored to) its shard's cache, which the shard's own DAG file reads too."""

    def __init__(self, shards: list[ParseCache], shard_of_path: Callable[[Path], int]):
        self.shards = shards
        self.shard_of_path = shard_of_path

    @classmethod
    def for_include(cls, include: Path, state: Path) -> ShardedParseCache:
        from opendata.spec.shards import DATASET_DAG_FILES, shard_of_path, shard_part

        return cls([ParseCache.for_include(include, state, shard_part(k)) for k in range(DATASET_DAG_FILES)],
                   shard_of_path)

    def _of(self, path: Path) -> ParseCache:
        return self.shards[self.shard_of_path(path)]

    def lookup(self, path: Path, key: Key | None) -> dict[str, Any] | None:
        return self._of(path).lookup(path, key)

    def has(self, path: Path, key: Key | None) -> bool:
        return self._of(path).has(path, key)

    def adopt(self, path: Path, entry: dict[str, Any]) -> None:
        self._of(path).adopt(path, entry)

    def stale(self, path: Path) -> dict[str, Any] | None:
        return self._of(path).stale(path)

    def store(self, path: Path, key: Key, entry: dict[str, Any]) -> None:
        self._of(path).store(path, key, entry)

    def remember(self, key: str, compute: Callable[[], Any]) -> Any:
        return self.shards[int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(self.shards)].remember(
            key, compute)

    def save(self) -> None:
        for shard in self.shards:
            shard.save()

    @property
    def hits(self) -> int:
        return sum(shard.hits for shard in self.shards)

    @property
    def misses(self) -> int:
        return sum(shard.misses for shard in self.shards)


def _dumps(data: Any) -> bytes:
    # orjson for speed (the caches of 5,000 files are tens of MB, read on every parse); the
    # standard library for what orjson refuses (a file name that is not UTF-8, kept escaped).
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _read(location: Path, version: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    try:
        with open(location, "rb") as handle:
            data = _loads(handle.read())
    except (OSError, ValueError):
        return {}, {}
    if not isinstance(data, dict) or data.get("version") != version or not isinstance(data.get("files"), dict):
        return {}, {}
    memo = data.get("memo")
    return ({path: entry for path, entry in data["files"].items() if isinstance(entry, dict)},
            memo if isinstance(memo, dict) else {})
