"""What DAG parsing reads of the registry: each dataset's stage and which file holds each id.

A coordinator sees a dataset's stage as the ``stage:`` tag of its DAG, and a dataset id must
stay with the file its DAG was built from (``opendata.spec.holders``) at parse time and in every
task. Both come from the publication registry, which every component can read: the DAG
processor may run on another machine than the workers whose tasks change stages, so no file one
of them writes on its own disk can be the source.

* Stages: the registry's ``opendata_dataset_state``, every dataset's in one statement.
* The dataset-file record: the registry's ``opendata_dataset_file``, written by the DAG
  processor's unsharded parse (``dags/dataset_file_errors.py``) only when it changed, in one
  transaction (``Registry.record_dataset_files``).

Parsing must stay cheap and must not stall: the DAG processor parses each of the 17 DAG files
every few seconds, in fresh processes. So each machine keeps what it last read in a small cache
file in its local state folder (``registry-snapshot.json``, written atomically): a read within
``OPENDATA_STAGE_CACHE_SECONDS`` (30 s) of the last one makes no database round trip at all;
after it, the next read asks the registry once (both answers in one statement, at most
``PARSE_TIMEOUT_SECONDS`` to connect and answer) and refreshes the file for every parse on the
machine. A registry that cannot be reached, or answers too slowly, does not fail parsing: the
last values read stay in use (or none: every DAG shows ``not-ready``), a warning is logged, and
the registry is asked again one window later, not by every parse in between.

A task that changes a stage also updates this machine's cache at once (``write_stage``), so a
single-machine install shows the new tag on the next parse; other machines see it from the
registry within the window.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from opendata import settings
from opendata.fileio import write_atomically

log = logging.getLogger(__name__)

NOT_READY = "not-ready"
CACHE_FILE = "registry-snapshot.json"
#: How long a parse waits for the registry (to connect, and for PostgreSQL to answer) before it
#: goes on with the cached values. libpq's shortest connect timeout is 2 s.
PARSE_TIMEOUT_SECONDS = 2.0
# Single-machine installs before the registry held the record kept it in this file of the state
# folder: read while the registry has no record yet, so an upgrade hands no contested id over.
LEGACY_DATASET_FILES = "dataset_files.json"
_FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    #: Dataset id -> stage (``opendata.registry.Stage`` values); ids never recorded are absent.
    stages: dict[str, str] = field(default_factory=dict)
    #: Dataset id -> the path under datasets/ of the file that holds it.
    dataset_files: dict[str, str] = field(default_factory=dict)
    #: When the registry was last asked (``time.time()``), whether it answered or not.
    read_at: float = 0.0
    #: Whether it answered then.
    reachable: bool = False
    #: Which registry setting it was read with (a change of OPENDATA_REGISTRY_URL is a miss).
    key: str = ""


def cache_path() -> Path:
    return settings.state_dir() / CACHE_FILE


def snapshot() -> Snapshot:
    """The stages and the dataset-file record: this machine's cache if the registry was asked
    within the window, else the registry's answer now (or, if it cannot answer, the last values)."""
    key = _registry_key()
    cached = _load(key)
    now = _clock()
    window = settings.stage_cache_seconds()
    if cached is not None and 0 <= now - cached.read_at < window:
        return cached
    return _refresh(cached, key, now)


def read_stages() -> dict[str, str]:
    """Dataset id -> its stage as the registry records it (see :func:`snapshot`)."""
    return snapshot().stages


def read_dataset_files() -> dict[str, str]:
    """Dataset id -> the path under datasets/ of the file that holds it (see :func:`snapshot`)."""
    return snapshot().dataset_files


def write_stage(dataset_id: str, stage: str) -> None:
    """Show ``stage`` on this machine at once (the registry already records it): the cached entry
    is updated, its read time kept, so the next refresh still comes from the registry."""
    key = _registry_key()
    cached = _load(key) or Snapshot(key=key)
    if cached.stages.get(dataset_id) == stage:
        return
    _save(replace(cached, stages={**cached.stages, dataset_id: stage}))


def record_dataset_files(holders: Mapping[str, str]) -> None:
    """Keep ``holders`` as the registry's record, only when it changed (most parses change
    nothing: no write, and no round trip within the window). A registry that cannot be written
    leaves the record as it was; parsing goes on."""
    from opendata.registry.store import Registry

    wanted = dict(holders)
    current = snapshot()
    if current.dataset_files == wanted:
        return
    if not current.reachable:
        log.warning("Which file holds each dataset id was not recorded: the registry could not be read within "
                    "the last %.0f s (see the warning above); recording it at a later parse",
                    settings.stage_cache_seconds())
        return
    try:
        registry = Registry.from_settings(connect_timeout=PARSE_TIMEOUT_SECONDS)
        try:
            registry.record_dataset_files(wanted)
        finally:
            registry.close()
    except Exception as exc:  # noqa: BLE001 - parsing goes on; the message says what failed
        log.warning("Could not record which file holds each dataset id in the registry: %s", _reason(exc))
        return
    _save(replace(current, dataset_files=wanted))


def _clock() -> float:
    """Seconds since the epoch: the cache is shared by processes, so not a monotonic clock."""
    return time.time()


def _refresh(cached: Snapshot | None, key: str, now: float) -> Snapshot:
    try:
        stages, files = _read_registry()
    except Exception as exc:  # noqa: BLE001 - unreachable, slow or misconfigured: parsing goes on
        kept = cached or Snapshot(dataset_files=_legacy_record())
        since = (f"the values read at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(kept.read_at))}"
                 if cached is not None and cached.reachable else "no stages (every DAG shows not-ready)")
        log.warning("The registry could not be read for the DAGs' stages and dataset files (%s); using %s, "
                    "asking again in %.0f s", _reason(exc), since, settings.stage_cache_seconds())
        # The failed attempt counts as a read: the other parses of this window do not wait for it too.
        fallback = replace(kept, read_at=now, reachable=False, key=key)
        _save(fallback)
        return fallback
    fresh = Snapshot(stages=stages, dataset_files=files or _legacy_record(), read_at=now, reachable=True, key=key)
    _save(fresh)
    return fresh


def _read_registry() -> tuple[dict[str, str], dict[str, str]]:
    """One statement on the configured registry; a registry that lacks the tables gets them (as
    any task creates them) and is read again."""
    from opendata.registry.errors import is_unavailability, unavailable
    from opendata.registry.location import locate
    from opendata.registry.store import Registry, is_missing_table, read_snapshot

    location = locate()
    if location.default_file is not None and not location.default_file.exists():
        return {}, {}  # this machine's default registry records nothing yet: parsing does not create it
    failure = None
    for attempt in range(2):
        try:
            return read_snapshot(location.url, timeout=PARSE_TIMEOUT_SECONDS)
        except Exception as exc:
            if attempt == 0 and is_missing_table(exc):
                # A registry older than the record's table, or never used: create the missing tables
                # as any task would (additive, opendata.registry.store), then read again.
                Registry(location.url, location=location, connect_timeout=PARSE_TIMEOUT_SECONDS).close()
                continue
            if not is_unavailability(exc):
                raise
            # Named as every registry failure is: where it is configured, never its password.
            failure = unavailable(exc, location, doing="cannot be read")
        if failure is not None:  # raised outside the except block: the driver's error is not chained
            raise failure
    raise AssertionError("not reached")


def _registry_key() -> str:
    # Only what costs nothing to read: looking up the Airflow connection would be a round trip.
    return hashlib.sha256((settings.registry_url() or "").encode()).hexdigest()[:16]


def _load(key: str) -> Snapshot | None:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT or data.get("key") != key:
            return None
        return Snapshot(stages=_strings(data["stages"]), dataset_files=_strings(data["dataset_files"]),
                        read_at=float(data["read_at"]), reachable=bool(data["reachable"]), key=key)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or unreadable: read the registry


def _save(snap: Snapshot) -> None:
    data = {"format": _FORMAT, "key": snap.key, "read_at": snap.read_at, "reachable": snap.reachable,
            "stages": snap.stages, "dataset_files": snap.dataset_files}
    try:
        # Written whole then renamed: a parse never reads half a file.
        write_atomically(cache_path(), json.dumps(data, sort_keys=True, separators=(",", ":")))
    except OSError as exc:
        log.warning("Could not keep the registry's stages and dataset files in %s: %s", cache_path(), exc)


def _legacy_record() -> dict[str, str]:
    try:
        data = json.loads((settings.state_dir() / LEGACY_DATASET_FILES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return _strings(data) if isinstance(data, dict) else {}


def _strings(data: object) -> dict[str, str]:
    if not isinstance(data, dict):
        raise TypeError("not a mapping")
    return {str(k): str(v) for k, v in data.items()}


def _reason(exc: BaseException) -> str:
    from opendata.registry.location import mask_userinfo

    # RegistryUnavailable already names the registry without its password; any other error may
    # quote a URL: masked like any.
    text = " ".join(str(exc).split())[:500] or type(exc).__name__
    return f"{type(exc).__name__}: {mask_userinfo(text)}"
