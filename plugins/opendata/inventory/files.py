"""The dataset files as the inventory reads them: a summary per valid file, each file parsed once
per change.

Reading a thousand dataset files takes one to two seconds (libyaml and the typed model, as the
freshness monitor's fast reader does it: ``freshness.sources``), too slow for every page view.
:class:`DatasetFileIndex` keeps, per file, the summary the view shows, keyed like the DAG
files' parse cache (``spec.cache.file_key``: resolved path, size, modification and change
times, inode and device) and the code's version; a page view stats the files and parses only
those that changed. The summaries are also kept in a JSON file under the state folder, so a
freshly started API server worker does not parse every file again. A file changed in the last
two seconds is not kept (``spec.cache.is_racy``).

Which file counts is decided as everywhere else: files under ``datasets/<department>/``, the
holder of an id two files claim (``spec.holders`` with the DAG processor's record), regular
files inside the include folder under the size limit (``spec.reading``), a valid model whose id
and department match the file's name and folder. A file that fails is listed as a problem
(``opendata lint`` says why, line by line), never fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendata import settings
from opendata.catalog.quarterly import PlannedEntry
from opendata.fileio import write_atomically
from opendata.freshness.policy import CITY_TIMEZONE, FreshnessPolicy
from opendata.inventory.model import DatasetSummary, FileProblem, FileSnapshot, RecordedApprovalSummary
from opendata.registry.stage_snapshot import read_dataset_files
from opendata.spec.cache import Key, code_version, file_key, is_racy, key_of
from opendata.spec.dataset import DatasetSpec, PlannedDataset, RecordedApproval
from opendata.spec.errors import SpecFileError
from opendata.spec.freshness import FreshnessSection
from opendata.spec.governance import Governance
from opendata.spec.holders import choose_holders, relative_name
from opendata.spec.loader import dataset_files, load_governance
from opendata.spec.reading import read_config_text
from opendata.spec.status import is_planned
from opendata.spec.validate import plain_yaml

log = logging.getLogger(__name__)

#: Bumped when :class:`DatasetSummary` or its JSON form changes (the cache file is then ignored).
SUMMARY_VERSION = 1


def summarize(spec: DatasetSpec, path: str, timezone: str = CITY_TIMEZONE) -> DatasetSummary:
    """The view's summary of a valid dataset file (``path``: under ``datasets/``)."""
    return DatasetSummary(
        dataset_id=spec.id, department=spec.department, name=spec.name, steward_name=spec.steward.name,
        steward_email=str(spec.steward.email), coordinator=spec.coordinator,
        classification=spec.classification.category.value, classification_level=spec.classification.level,
        update_frequency=spec.update_frequency.value, schedule=spec.schedule,
        policy=policy_of(spec.update_frequency.value, spec.freshness, timezone),
        step1_on_paper=_approval(spec.publication.department_approval),
        classification_approval=_approval(spec.classification.approval),
        not_before=spec.publication.not_before, path=path)


def policy_of(frequency: str, section: FreshnessSection, timezone: str) -> FreshnessPolicy | None:
    """``freshness.policy.policy_for`` from the two fields it reads (a cached summary has no spec);
    None for thresholds the lint command rejects."""
    try:
        return FreshnessPolicy.for_frequency(
            frequency, due_after=section.due_after.timedelta if section.due_after else None,
            overdue_after=section.overdue_after.timedelta if section.overdue_after else None,
            no_updates_on=section.no_update_days, timezone=timezone)
    except ValueError as exc:
        log.warning("A freshness policy is invalid (%s); the dataset's freshness is not judged", exc)
        return None


def quick_key(path: Path, folders: dict[str, str]) -> Key | None:
    """``spec.cache.file_key(path)`` with one ``lstat`` for a file that is not a link: its
    folder's resolved path is resolved once per folder (``folders``), not per file (resolving
    every file's path took most of a page view's time at 1,000 files)."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(status.st_mode):
        return file_key(path)
    if not stat.S_ISREG(status.st_mode):
        return None
    folder = str(path.parent)
    real = folders.get(folder)
    if real is None:
        real = folders[folder] = os.path.realpath(folder)
    return key_of(os.path.join(real, path.name), status)


def _approval(recorded: RecordedApproval | None) -> RecordedApprovalSummary | None:
    return RecordedApprovalSummary(recorded.approved_by, recorded.approved_at) if recorded else None


@dataclass(frozen=True)
class _Entry:
    key: Key
    summary: DatasetSummary | None
    problem: str | None
    #: The file's freshness section as JSON (rebuilds the policy from the cache file).
    freshness: dict[str, Any] | None = None
    #: A planned file (``status: planned``): its timeline entry instead of a summary.
    plan: PlannedEntry | None = None


class DatasetFileIndex:
    """The summaries of the include folder's dataset files, kept between calls (thread-safe).

    ``cache_file``: where the summaries are kept between processes (default: under the state
    folder; None: in memory only).
    """

    def __init__(self, include_dir: Path | None = None, *, cache_file: Path | None | bool = True,
                 timezone: str | None = None):
        self.include_dir = include_dir or settings.include_dir()
        self.timezone = timezone or settings.freshness_timezone() or CITY_TIMEZONE
        if cache_file is True:
            name = hashlib.sha256(os.path.realpath(self.include_dir).encode()).hexdigest()[:16]
            self.cache_file: Path | None = settings.state_dir() / "inventory-cache" / f"{name}.json"
        else:
            self.cache_file = cache_file or None
        self.version = f"{code_version()}-{SUMMARY_VERSION}-{self.timezone}"
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._governance: tuple[Key, Governance] | None = None
        self._loaded = False
        #: Files parsed by the last :meth:`snapshot` (for the bench and tests).
        self.parsed = 0

    def snapshot(self) -> FileSnapshot:
        """Every valid dataset file's summary, and the files skipped. Raises :class:`SpecFileError`
        when governance.yaml does not load (department and people names come from it)."""
        with self._lock:
            if not self._loaded:
                self._read_cache()
                self._loaded = True
            self.parsed = 0
            governance = self._read_governance()
            datasets_dir = self.include_dir / "datasets"
            files = dataset_files(datasets_dir)
            holders = choose_holders(files, datasets_dir, read_dataset_files()).holder
            limit = settings.max_dataset_file_bytes()
            entries: dict[str, _Entry] = {}
            summaries: dict[str, DatasetSummary] = {}
            problems: list[FileProblem] = []
            plans: list[PlannedEntry] = []
            folders: dict[str, str] = {}
            changed = False
            for path in files:
                name = relative_name(path, datasets_dir)
                if holders.get(path.stem) != path:
                    problems.append(FileProblem(name, f"another file holds dataset id {path.stem!r}"))
                    continue
                entry = self._entries.get(name)
                key = quick_key(path, folders)
                if entry is None or key is None or entry.key != key:
                    entry = self._parse(path, name, limit)
                    self.parsed += 1
                    changed = True
                if entry.summary is not None:
                    summaries[entry.summary.dataset_id] = entry.summary
                elif entry.plan is not None:
                    plans.append(entry.plan)
                else:
                    problems.append(FileProblem(name, entry.problem or "does not validate"))
                if entry.key:
                    entries[name] = entry
            changed = changed or set(entries) != set(self._entries)
            self._entries = entries
            if changed:
                self._write_cache()
            return FileSnapshot(governance, summaries, tuple(problems), tuple(plans))

    def _parse(self, path: Path, name: str, limit: int) -> _Entry:
        try:
            read = read_config_text(path, self.include_dir, limit)
            data = plain_yaml(read.text)
            if is_planned(data):
                return self._planned(path, read.status, PlannedDataset.model_validate(data))
            spec = DatasetSpec.model_validate(data)
        except Exception as exc:  # noqa: BLE001 - any broken file is listed, never fatal
            log.warning("Skipping %s: it does not load (%s); run `opendata lint`", path, type(exc).__name__)
            status = os.stat(path) if path.exists() else None
            key = key_of(os.path.realpath(path), status) if status and not is_racy(status) else []
            return _Entry(key, None, f"does not load ({type(exc).__name__}); run `opendata lint`")
        key = [] if is_racy(read.status) else key_of(os.path.realpath(path), read.status)
        if spec.id != path.stem or spec.department != path.parent.name:
            return _Entry(key, None, "its id or department does not match its file name and folder")
        return _Entry(key, summarize(spec, name, self.timezone), None, spec.freshness.model_dump(mode="json"))

    def _planned(self, path: Path, status: os.stat_result | None, plan: PlannedDataset) -> _Entry:
        key = [] if status is None or is_racy(status) else key_of(os.path.realpath(path), status)
        if plan.id != path.stem or plan.department != path.parent.name:
            return _Entry(key, None, "its id or department does not match its file name and folder")
        return _Entry(key, None, None, plan=PlannedEntry(plan.department, plan.id, plan.name, plan.target_date))

    def _read_governance(self) -> Governance:
        path = settings.governance_file(self.include_dir)
        key = file_key(path)
        if self._governance is not None and key is not None and self._governance[0] == key:
            return self._governance[1]
        governance, errors = load_governance(path, root=self.include_dir)
        if governance is None:
            raise SpecFileError(errors)
        self._governance = (key, governance) if key is not None else None
        return governance

    # --- the cache file ----------------------------------------------------------------------------

    def _read_cache(self) -> None:
        if self.cache_file is None:
            return
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("version") != self.version:
            return
        files = data.get("files")
        for name, raw in (files.items() if isinstance(files, dict) else ()):
            try:
                self._entries[name] = _entry_from_json(raw, self.timezone)
            except (KeyError, TypeError, ValueError):
                continue  # an entry that does not read back is parsed again
        governance = data.get("governance")
        if isinstance(governance, dict):
            try:
                self._governance = (governance["key"], Governance.model_validate(governance["model"]))
            except (KeyError, TypeError, ValueError):
                self._governance = None

    def _write_cache(self) -> None:
        if self.cache_file is None:
            return
        data: dict[str, Any] = {
            "version": self.version,
            "files": {name: _entry_to_json(entry) for name, entry in self._entries.items()},
        }
        if self._governance is not None:
            data["governance"] = {"key": self._governance[0],
                                  "model": self._governance[1].model_dump(mode="json")}
        try:
            write_atomically(self.cache_file, json.dumps(data, separators=(",", ":")))
        except OSError as exc:
            log.info("Inventory cache not written (%s): each new process reads every dataset file", exc)


def _approval_json(value: RecordedApprovalSummary | None) -> list[str] | None:
    return [value.approved_by, value.approved_on.isoformat()] if value else None


def _approval_from_json(value: Any) -> RecordedApprovalSummary | None:
    if value is None:
        return None
    import datetime as dt

    return RecordedApprovalSummary(str(value[0]), dt.date.fromisoformat(value[1]))


def _entry_to_json(entry: _Entry) -> dict[str, Any]:
    summary = entry.summary
    if entry.plan is not None:
        plan = entry.plan
        return {"key": entry.key, "plan": {"department": plan.department, "dataset_id": plan.dataset_id,
                                           "name": plan.name, "target_date": plan.target_date.isoformat()}}
    if summary is None:
        return {"key": entry.key, "problem": entry.problem}
    return {"key": entry.key, "freshness": entry.freshness, "summary": {
        "dataset_id": summary.dataset_id, "department": summary.department, "name": summary.name,
        "steward_name": summary.steward_name, "steward_email": summary.steward_email,
        "coordinator": summary.coordinator, "classification": summary.classification,
        "classification_level": summary.classification_level, "update_frequency": summary.update_frequency,
        "schedule": summary.schedule, "step1_on_paper": _approval_json(summary.step1_on_paper),
        "classification_approval": _approval_json(summary.classification_approval),
        "not_before": summary.not_before.isoformat() if summary.not_before else None, "path": summary.path}}


def _entry_from_json(raw: Mapping[str, Any], timezone: str) -> _Entry:
    import datetime as dt

    key = list(raw["key"])
    if "plan" in raw:
        p = raw["plan"]
        return _Entry(key, None, None, plan=PlannedEntry(str(p["department"]), str(p["dataset_id"]), str(p["name"]),
                                                         dt.date.fromisoformat(p["target_date"])))
    if "summary" not in raw:
        return _Entry(key, None, str(raw["problem"]))
    s = raw["summary"]
    freshness = raw["freshness"]
    section = FreshnessSection.model_validate(freshness)
    not_before = dt.datetime.fromisoformat(s["not_before"]) if s["not_before"] else None
    summary = DatasetSummary(
        dataset_id=str(s["dataset_id"]), department=str(s["department"]), name=str(s["name"]),
        steward_name=str(s["steward_name"]), steward_email=str(s["steward_email"]),
        coordinator=str(s["coordinator"]), classification=str(s["classification"]),
        classification_level=int(s["classification_level"]), update_frequency=str(s["update_frequency"]),
        schedule=s["schedule"] if s["schedule"] is None else str(s["schedule"]),
        policy=policy_of(str(s["update_frequency"]), section, timezone),
        step1_on_paper=_approval_from_json(s["step1_on_paper"]),
        classification_approval=_approval_from_json(s["classification_approval"]),
        not_before=not_before, path=str(s["path"]))
    return _Entry(key, summary, None, dict(freshness))
