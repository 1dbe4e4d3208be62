"""Load the governance file and every dataset file, checking references between them.

A broken file never stops the others: the catalog holds every dataset that is valid and a
list of errors for those that are not, so the DAG factory can build the good ones and the
lint command can report all problems in one pass. Nothing a file holds can stop the load:
oversized, unreadable, hostile or simply odd files become errors naming the file, and an
unexpected failure while checking one file is reported against that file.

A file that says ``status: planned`` is an inventory entry not ready to run (opendata.spec.status):
it is checked as one (the inventory fields, a target date, and whichever run sections it already
has) and kept in ``Catalog.planned``, never in ``Catalog.datasets``, so no DAG is built for it and
nothing runs for it. It claims its id like any file (opendata.spec.holders), so the id stays with
it when it becomes active.

Each dataset file is checked in two parts. What the file alone decides (YAML, schema, names
that must agree within the file and with its path) can be kept between DAG parses
(``cache``); what depends on other files, the file system or the clock (people and
departments in governance.yaml, where source and query files are, a go-live date in the past)
is checked on every load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opendata import settings
from opendata.spec.cache import ResultCache, file_key, is_racy, key_of
from opendata.spec.dataset import (
    DatasetFile,
    DatasetSpec,
    FileSource,
    HttpSource,
    PlannedDataset,
    SqlSource,
    model_for_status,
)
from opendata.spec.errors import (
    MAX_ERRORS_PER_FILE,
    Loc,
    Problem,
    SpecError,
    SpecFileError,
    did_you_mean,
    format_loc,
)
from opendata.spec.file_checks import file_problems
from opendata.spec.governance import Governance
from opendata.spec.holders import Holders, choose_holders, newcomer_message
from opendata.spec.paths import Confinement, UnsafePath
from opendata.spec.status import CITY_TIMEZONE, validate_dataset_document
from opendata.spec.todo_check import TODO_LEFT, todo_problems, under_todo
from opendata.spec.validate import SpecParseError, YamlDocument, validate_document

log = logging.getLogger(__name__)


# Stages at which a past go-live date is history, not a mistake: the dataset was approved for
# (or went through) its scheduled publication. Values of opendata.registry.Stage.
_PAST_GO_LIVE_STAGES = frozenset({"scheduled", "stage-2", "refreshing", "retired"})
# Stages at which a dataset needs its DAG (in review, scheduled, public and refreshed): a planned
# file, which builds none, leaves it stranded.
_NEEDS_A_DAG_STAGES = frozenset({"stage-1", "scheduled", "stage-2", "refreshing"})


@dataclass(frozen=True)
class LoadedDataset:
    spec: DatasetSpec
    path: Path
    # Things worth telling the file's authors that do not stop the dataset (lint prints them,
    # the DAG's documentation shows them).
    warnings: tuple[SpecError, ...] = ()


@dataclass(frozen=True)
class LoadedPlanned:
    """A valid planned file (``status: planned``): on the inventory's timeline, no DAG."""

    spec: PlannedDataset
    path: Path
    # Its warnings, a target date that has passed among them (lint prints them).
    warnings: tuple[SpecError, ...] = ()


@dataclass
class Catalog:
    governance: Governance | None
    # The valid files of datasets that run (one DAG each).
    datasets: list[LoadedDataset] = field(default_factory=list)
    # The valid planned files (never in ``datasets``: nothing runs for them).
    planned: list[LoadedPlanned] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)
    warnings: list[SpecError] = field(default_factory=list)
    # Dataset id -> path under datasets/ of the file holding it (see opendata.spec.holders).
    holders: dict[str, str] = field(default_factory=dict)

    def raise_for_errors(self) -> None:
        if self.errors:
            raise SpecFileError(self.errors)

    def get(self, dataset_id: str) -> LoadedDataset:
        for loaded in self.datasets:
            if loaded.spec.id == dataset_id:
                return loaded
        raise KeyError(dataset_id)


def dataset_files(datasets_dir: Path) -> list[Path]:
    return sorted(p for p in datasets_dir.glob("*/*.y*ml") if p.suffix in {".yaml", ".yml"})


def load_catalog(include_dir: Path | None = None, *, cache: ResultCache | None = None,
                 record: Mapping[str, str] | None = None, stages: Mapping[str, str] | None = None,
                 now: dt.datetime | None = None, only: Callable[[str], bool] | None = None,
                 deadline: float | None = None, keep_datasets: bool = True) -> Catalog:
    """Every dataset file under ``include_dir``.

    ``record``: dataset id -> the file that last held it alone (decides which of two files with
    one id keeps it); ``stages``: dataset id -> publication stage (quiets warnings that only
    matter before approval); ``cache``: results of unchanged files from earlier parses;
    ``only``: which dataset ids (file names) to load; ``deadline`` (``time.monotonic()``):
    after it, changed files are not parsed again (their previous result is used, a new file
    waits for the next parse), so a load never runs into Airflow's import timeout;
    ``keep_datasets`` False: the valid files are checked but not kept (a load that only reports
    errors holds one typed model at a time, not 5,000). Valid planned files are kept in
    ``Catalog.planned``, never in ``Catalog.datasets``.
    """
    include = include_dir or settings.include_dir()
    try:
        governance, errors = load_governance(settings.governance_file(include), root=include)
    except Exception as exc:  # noqa: BLE001 - the dataset files are still checked on their own
        log.exception("Unexpected failure checking the governance file")
        governance, errors = None, [SpecError(settings.governance_file(include), (), f"could not be checked "
                                                                              f"({type(exc).__name__})")]
    catalog = Catalog(governance=governance, errors=errors)
    datasets_dir = include / "datasets"
    stray = sorted(p for p in datasets_dir.glob("*.y*ml")) if datasets_dir.is_dir() else []
    for path in stray:
        catalog.errors.append(SpecError(path, (), "dataset files belong in a department folder: "
                                        "datasets/<department>/<dataset id>.yaml"))
    files = [path for path in dataset_files(datasets_dir) if only is None or only(path.stem)]
    # Only files can claim an id: a folder or a pipe named like one is refused below, nothing more.
    holders = choose_holders([path for path in files if path.is_file()], datasets_dir, record or {})
    catalog.holders = holders.relative(datasets_dir)
    now = now or dt.datetime.now(dt.UTC)
    confinement = Confinement(include, settings.data_roots())
    for path in files:
        if path in holders.newcomers:
            catalog.errors.append(_newcomer_error(path, holders))
            continue
        spec, file_errors, warnings = check_file(path, governance, include, cache=cache,
                                                 stage=(stages or {}).get(path.stem), now=now,
                                                 confinement=confinement, deadline=deadline)
        catalog.errors += file_errors
        catalog.warnings += warnings
        if spec is None or not keep_datasets:
            continue
        if isinstance(spec, PlannedDataset):
            catalog.planned.append(LoadedPlanned(spec, path, tuple(warnings)))
        else:
            catalog.datasets.append(LoadedDataset(spec, path, tuple(warnings)))
    return catalog


def load_governance(path: Path, root: Path | None = None) -> tuple[Governance | None, list[SpecError]]:
    try:
        doc = YamlDocument.read(path, root=root)
    except SpecParseError as exc:
        return None, exc.errors
    governance, errors = validate_document(Governance, doc)
    if governance is None:
        return None, errors
    people = set(governance.people)
    for loc, key in governance.person_references():
        if key not in people:
            errors.append(SpecError(path, loc, f"unknown person {key!r}; add them under people",
                                    did_you_mean(key, people), doc.line_of(loc)))
    return (governance if not errors else None), errors


def load_dataset(path: Path, governance: Governance | None,
                 include_dir: Path | None = None) -> tuple[DatasetSpec | None, list[SpecError]]:
    """Validate one dataset file that runs; ``governance`` None skips the cross-file checks. A
    planned file is an error here: nothing runs for it."""
    spec, errors, _ = check_dataset_file(path, governance, include_dir or settings.include_dir())
    return spec, errors


def dataset_file_for(dataset_id: str, include_dir: Path, record: Mapping[str, str] | None = None) -> Path | None:
    """The file that holds ``dataset_id`` (the one its DAG is built from), or None.

    For a task, not a parse: when two files claim the id and no record says which holds it (a
    worker that does not share the DAG processor's state folder), it refuses to guess rather than
    publish one department's file under another's dataset.
    """
    datasets_dir = include_dir / "datasets"
    claimants = [path for path in dataset_files(datasets_dir) if path.stem == dataset_id and path.is_file()]
    holders = choose_holders(claimants, datasets_dir, record or {})
    if len(claimants) > 1 and dataset_id not in holders.recorded:
        raise SpecFileError([SpecError(path, ("id",), f"{len(claimants)} files claim dataset id {dataset_id!r} and "
                                       f"the state folder has no record of which one holds it; nothing runs until "
                                       f"one is removed or renamed") for path in claimants])
    return holders.holder.get(dataset_id)


def check_dataset_file(path: Path, governance: Governance | None, include: Path, *,
                       cache: ResultCache | None = None, stage: str | None = None, now: dt.datetime | None = None,
                       confinement: Confinement | None = None, deadline: float | None = None,
                       ) -> tuple[DatasetSpec | None, list[SpecError], list[SpecError]]:
    """(the spec if the file is valid and runs, its errors, its warnings); never raises for the
    file's sake. A valid planned file is one error: it says it is not ready to run."""
    spec, errors, warnings = check_file(path, governance, include, cache=cache, stage=stage, now=now,
                                        confinement=confinement, deadline=deadline)
    if isinstance(spec, PlannedDataset):
        return None, [SpecError(path, ("status",), f"dataset {spec.id!r} is planned (target date "
                                f"{spec.target_date.isoformat()}), not ready to run: nothing runs for it until the "
                                f"file says 'status: active' (or leaves status out)")], []
    return spec, errors, warnings


def check_file(path: Path, governance: Governance | None, include: Path, *,
               cache: ResultCache | None = None, stage: str | None = None, now: dt.datetime | None = None,
               confinement: Confinement | None = None, deadline: float | None = None,
               ) -> tuple[DatasetFile | None, list[SpecError], list[SpecError]]:
    """(the model if the file is valid: one that runs or a planned one, its errors, its warnings);
    never raises for the file's sake."""
    try:
        parsed = _parsed(path, include, cache, deadline)
        errors = list(parsed.errors)
        warnings: list[SpecError] = []
        if parsed.spec is not None:
            confinement = confinement or Confinement(include, settings.data_roots())
            todos = {error.loc for error in errors if error.message.startswith(TODO_LEFT)}
            errors += [SpecError(path, loc, message, hint, parsed.line_of(loc))
                       for loc, message, hint in _cross_problems(parsed.spec, governance, confinement, cache)
                       if not (todos and under_todo(loc, todos))]
            warnings = [SpecError(path, loc, message, hint, parsed.line_of(loc))
                        for loc, message, hint in _warning_problems(parsed.spec, stage, now)]
    except Exception as exc:  # noqa: BLE001 - one file must never stop the others
        log.exception("Unexpected failure checking %s", path)
        return None, [SpecError(path, (), f"could not be checked ({type(exc).__name__}); run `opendata lint` "
                                          f"and report this file to the pipeline's maintainers")], []
    errors = _capped(path, errors)
    return (parsed.spec if not errors else None), errors, (warnings if not errors else [])


# --- what the file alone decides (kept between parses) ------------------------------------------

_NOT_CHECKED_YET = ("not checked yet: this parse spent its time budget (OPENDATA_PARSE_BUDGET_SECONDS) on other "
                    "new or changed files; the next parse checks it (run `opendata lint` to check it now)")

# Fields checked against other files or the clock: their lines are kept with the cached result.
_CROSS_LOCS: list[Loc] = [
    ("id",), ("department",), ("coordinator",), ("source",), ("source", "path"), ("source", "query_file"),
    ("source", "query"), ("publication", "not_before"), ("publication", "department_approval", "approved_by"),
    ("classification", "approval", "approved_by"), ("status",), ("target_date",),
]


@dataclass(frozen=True)
class ParsedFile:
    # The typed model when the schema accepts the file (even if ``errors`` has more to say).
    spec: DatasetFile | None
    errors: list[SpecError]
    lines: dict[str, int]

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), 0, -1):
            line = self.lines.get(format_loc(loc[:end]))
            if line is not None:
                return line
        return None

    def to_entry(self) -> dict[str, Any]:
        # The status names the model the entry is read back with (an entry is data, never code).
        return {"spec": self.spec.model_dump_json() if self.spec is not None else None,
                "status": self.spec.status if self.spec is not None else None,
                "errors": [[list(e.loc), e.message, e.hint, e.line] for e in self.errors], "lines": self.lines}

    @classmethod
    def from_entry(cls, path: Path, entry: dict[str, Any]) -> ParsedFile:
        spec: DatasetFile | None = None
        if entry.get("spec") is not None:
            spec = model_for_status(str(entry["status"])).model_validate_json(entry["spec"])
        errors = [SpecError(path, tuple(loc), message, hint, line) for loc, message, hint, line in entry["errors"]]
        return cls(spec, errors, {str(k): int(v) for k, v in entry["lines"].items()})


def parse_dataset_file(path: Path, include: Path) -> tuple[ParsedFile, Any]:
    """The file's own result, and the status of the file as read (None when unreadable)."""
    try:
        doc = YamlDocument.read(path, root=include)
    except SpecParseError as exc:
        return ParsedFile(None, exc.errors, {}), None
    spec, errors = validate_dataset_document(doc)
    todos = [SpecError(path, loc, message, hint, doc.line_of(loc))
             for loc, message, hint in todo_problems(doc.data)] if doc.may_hold_todo else []
    if spec is None:
        return ParsedFile(None, _with_todos(errors, todos), {}), doc.status
    errors = [SpecError(path, loc, message, hint, doc.line_of(loc)) for loc, message, hint in file_problems(spec, path)]
    lines = {format_loc(loc): line for loc in _CROSS_LOCS if (line := doc.line_of(loc)) is not None}
    # A file with a TODO left is valid for the schema but not finished: its errors say so, and
    # an error is what keeps its DAG from being built (the typed model is kept for the cache).
    return ParsedFile(spec, _with_todos(errors, todos), lines), doc.status


def _with_todos(errors: list[SpecError], todos: list[SpecError]) -> list[SpecError]:
    """The file's errors with one per TODO left; an error at a TODO's field (or under it) is the
    TODO's doing ("TODO: ..." is not a date) and would only hide what to do, so it is left out."""
    if not todos:
        return errors
    at = {todo.loc for todo in todos}
    kept = [error for error in errors if not under_todo(error.loc, at)]
    return sorted(kept + todos, key=lambda error: error.line or 0)


def _parsed(path: Path, include: Path, cache: ResultCache | None, deadline: float | None = None) -> ParsedFile:
    if cache is None:
        return parse_dataset_file(path, include)[0]
    key = file_key(path)
    entry = cache.lookup(path, key)
    if entry is None and deadline is not None and time.monotonic() > deadline:
        entry = cache.stale(path)
        if entry is None:
            return ParsedFile(None, [SpecError(path, (), _NOT_CHECKED_YET)], {})
        log.warning("%s changed; no time left in this parse to check it again: its previous result is used", path)
    if entry is not None:
        try:
            return ParsedFile.from_entry(path, entry)
        except Exception:  # noqa: BLE001 - an unreadable entry is a miss
            log.info("Parse cache entry for %s unusable; parsing the file", path)
    parsed, status = parse_dataset_file(path, include)
    if key is None:
        return parsed
    if status is not None:
        if is_racy(status):
            return parsed  # changed a moment ago: it may change again within the clock's resolution
        key = key_of(key[0], status)  # the status of the bytes actually read
    # (status None: refused before reading, too large or not a regular file; the stat was judged.)
    cache.store(path, key, parsed.to_entry())
    return parsed


# --- what depends on other files, the file system or the clock (every load) ----------------------

def _cross_problems(spec: DatasetFile, governance: Governance | None, confinement: Confinement,
                    cache: ResultCache | None) -> list[Problem]:
    problems: list[Problem] = []
    include_dir = confinement.include
    if isinstance(spec.source, FileSource):
        try:
            confinement.source_path(spec.source.path)
        except UnsafePath as exc:
            problems.append((("source", "path"), str(exc), None))
    if isinstance(spec.source, HttpSource):
        from opendata.spec.urls import http_url_problem

        problem = http_url_problem(spec.source.url, conn_id=spec.source.conn_id,
                                   allowed_hosts=settings.http_source_hosts())
        if problem:
            problems.append((("source", "url"), problem, None))
    query_path = None
    if isinstance(spec.source, SqlSource) and spec.source.query_file:
        sql_dir = include_dir / "sql"
        try:
            query_path = confinement.query_file(spec.source.query_file)
        except UnsafePath as exc:
            problems.append((("source", "query_file"), str(exc), None))
        else:
            if not query_path.is_file():
                existing = [p.name for p in sql_dir.glob("*.sql")] if sql_dir.is_dir() else []
                problems.append((("source", "query_file"), f"no such file in {sql_dir}",
                                 did_you_mean(spec.source.query_file, existing)))
    if isinstance(spec.source, SqlSource):
        from opendata.spec.sql_lint import query_problems  # one read statement (the sources own the rule)

        source = spec.source
        problems += _remembered(cache, _query_key(source, query_path), lambda: query_problems(source, include_dir))
    if governance is not None:
        problems += _governance_problems(spec, governance)
    return problems


def _query_key(source: SqlSource, query_path: Path | None) -> str | None:
    """What the query check depends on: the inline text, or the query file's current state."""
    if source.query is not None:
        return "query:" + hashlib.sha256(source.query.encode()).hexdigest()
    key = file_key(query_path) if query_path is not None else None
    if key is None:
        return None
    status = os.stat(key[0])
    return None if is_racy(status) else "query_file:" + json.dumps(key)


def _remembered(cache: ResultCache | None, key: str | None,
                compute: Callable[[], list[Problem]]) -> list[Problem]:
    """A pure check's problems, kept in the parse cache under ``key`` (None: not kept)."""
    if cache is None or key is None:
        return compute()
    kept = cache.remember(key, lambda: [[list(loc), message, hint] for loc, message, hint in compute()])
    return [(tuple(loc), message, hint) for loc, message, hint in kept]


def _governance_problems(spec: DatasetFile, governance: Governance) -> list[Problem]:
    problems: list[Problem] = []
    department = governance.departments.get(spec.department)
    if department is None:
        problems.append((("department",), f"unknown department {spec.department!r} in governance.yaml",
                         did_you_mean(spec.department, set(governance.departments))))
    elif spec.coordinator not in department.coordinators:
        problems.append((("coordinator",),
                         f"{spec.coordinator!r} is not a coordinator of {spec.department} in governance.yaml",
                         did_you_mean(spec.coordinator, department.coordinators)))
    recorded = spec.publication.department_approval
    if department is not None and recorded is not None and recorded.approved_by not in department.leadership:
        problems.append((("publication", "department_approval", "approved_by"),
                         f"{recorded.approved_by!r} is not in the leadership of {spec.department} "
                         f"in governance.yaml; Step 1 approval comes from department leadership",
                         did_you_mean(recorded.approved_by, department.leadership)))
    approval = spec.classification.approval
    if approval is not None:
        approvers = [governance.chief_data_officer] + (department.leadership if department else [])
        if approval.approved_by not in approvers:
            problems.append((("classification", "approval", "approved_by"),
                             f"{approval.approved_by!r} may not approve level 2 data: the Chief Data Officer or "
                             f"the department's leadership in governance.yaml may",
                             did_you_mean(approval.approved_by, approvers)))
    return problems


def _warning_problems(spec: DatasetFile, stage: str | None, now: dt.datetime | None) -> list[Problem]:
    now = now or dt.datetime.now(dt.UTC)
    problems: list[Problem] = []
    if isinstance(spec, PlannedDataset) and stage in _NEEDS_A_DAG_STAGES:
        problems.append((("status",), f"the registry has {spec.id} at stage {stage}, but a planned file builds no "
                         f"DAG: nothing runs for it (review, go-live, refreshes) until the file says "
                         f"'status: active'", None))
    target = spec.target_date
    # A date passes at the end of that day in the city.
    today = now.astimezone(ZoneInfo(CITY_TIMEZONE)).date()
    if target is not None and target < today and (isinstance(spec, PlannedDataset)
                                                  or stage not in _PAST_GO_LIVE_STAGES):
        still = "" if isinstance(spec, PlannedDataset) else " and the dataset is not public yet"
        problems.append((("target_date",), f"target date {target.isoformat()} has passed{still}: publish it or "
                         f"move the date", None))
    not_before = spec.publication.not_before
    if not_before is None or not_before > now or stage in _PAST_GO_LIVE_STAGES:
        return problems
    return problems + [(("publication", "not_before"),
                        f"{not_before.isoformat()} is in the past: there is no scheduled go-live, the dataset goes "
                        f"public as soon as the Chief Data Officer approves it; give the planned date, or remove "
                        f"not_before", None)]


def _newcomer_error(path: Path, holders: Holders) -> SpecError:
    holder = holders.newcomers[path]
    return SpecError(path, ("id",), newcomer_message(path.stem, holder, path.stem in holders.recorded))


def _capped(path: Path, errors: list[SpecError]) -> list[SpecError]:
    if len(errors) <= MAX_ERRORS_PER_FILE:
        return errors
    return errors[:MAX_ERRORS_PER_FILE] + [SpecError(path, (), f"and more errors in this file after these "
                                                               f"{MAX_ERRORS_PER_FILE}; fix these first")]
