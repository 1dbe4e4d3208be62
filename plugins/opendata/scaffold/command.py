"""`opendata new`: profile the source, draft the file, write it, say what was decided and what is left.

Everything that can be refused without touching the source is refused first (the id and the
department as slugs, the department in governance.yaml, a file or id already there), so a typo
costs no connection to a database. The summary names every suggestion the draft made and every
TODO left with its line, the way lint will, and the commands to run next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendata import settings
from opendata.scaffold.draft import Draft, DraftContext, department_categories, draft_dataset
from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.people import load_department_people
from opendata.scaffold.profile import SourceProfile, profile_file, profile_http, profile_sql
from opendata.scaffold.render import render_dataset_file
from opendata.scaffold.write import claim_check, dataset_path, write_dataset_file
from opendata.spec.errors import Loc, format_loc

# Other departments' files read for the catalog's categories, at most (a draft must not read a city).
_CATEGORY_FILES = 300
MAX_SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class NewRequest:
    dataset_id: str
    department: str
    include_dir: Path
    sql: tuple[str, str] | None = None
    file: Path | None = None
    http: str | None = None
    records_path: str | None = None
    name: str | None = None
    sample_rows: int = 1000
    overwrite: bool = False
    stdout: bool = False


@dataclass(frozen=True)
class NewResult:
    draft: Draft
    profile: SourceProfile
    text: str
    # Where the file was written (None with --stdout).
    path: Path | None


def run_new(request: NewRequest, today: dt.date | None = None) -> NewResult:
    if not 1 <= request.sample_rows <= MAX_SAMPLE_ROWS:
        raise ScaffoldError(f"--sample-rows must be between 1 and {MAX_SAMPLE_ROWS:,}")
    target = dataset_path(request.include_dir, request.department, request.dataset_id)
    people = load_department_people(request.include_dir, request.department)
    if not request.stdout:
        claim_check(request.include_dir, target, overwrite=request.overwrite)
    profile = _profile(request)
    mine, everyone = _categories(request.include_dir, request.department)
    context = DraftContext(dataset_id=request.dataset_id, people=people, city_name=settings.city_name(),
                           today=today or dt.date.today(), name=request.name, department_categories=mine,
                           known_categories=everyone)
    draft = draft_dataset(profile, context)
    if request.stdout:
        return NewResult(draft, profile, render_dataset_file(draft.data, comments=draft.comments), None)
    path = write_dataset_file(request.include_dir, draft.data, comments=draft.comments, overwrite=request.overwrite)
    return NewResult(draft, profile, path.read_text(encoding="utf-8"), path)


def _profile(request: NewRequest) -> SourceProfile:
    given = [s for s in (request.sql, request.file, request.http) if s is not None]
    if len(given) != 1:
        raise ScaffoldError("give exactly one source: --sql CONN_ID TABLE_OR_QUERY, --file PATH or --http URL")
    if request.records_path is not None and request.http is None:
        raise ScaffoldError("--records-path applies to --http only")
    if request.sql is not None:
        return profile_sql(request.sql[0], request.sql[1], request.sample_rows)
    if request.file is not None:
        return profile_file(request.file, request.sample_rows, include_dir=request.include_dir)
    assert request.http is not None
    return profile_http(request.http, request.records_path, request.sample_rows)


def _categories(include: Path, department: str) -> tuple[list[str], list[str]]:
    """Portal categories of the department's dataset files, and (when it has none) of the catalog's."""
    from opendata.spec.loader import dataset_files

    datasets = include / "datasets"
    mine = department_categories(_plain(sorted((datasets / department).glob("*.yaml"))))
    if mine:
        return mine, []
    return [], department_categories(_plain(dataset_files(datasets)[:_CATEGORY_FILES]))


def _plain(paths: Sequence[Path]) -> list[Any]:
    from opendata.spec.reading import FileRefused, read_config_text
    from opendata.spec.validate import plain_yaml

    out: list[Any] = []
    for path in paths:
        try:
            out.append(plain_yaml(read_config_text(path, None, settings.max_dataset_file_bytes()).text))
        except (FileRefused, Exception):  # noqa: BLE001 - a broken file only suggests nothing
            continue
    return out


def summary(result: NewResult, include_dir: Path) -> str:
    """What the command prints: where, what was decided, what is left, what to run next."""
    draft, profile = result.draft, result.profile
    types: dict[str, int] = {}
    for column in draft.columns:
        types[column["type"]] = types.get(column["type"], 0) + 1
    lines = [f"Wrote {result.path}" if result.path else "Drafted (printed above, not written)",
             f"  source: {profile.source_system}, {profile.row_count_sampled:,} rows sampled",
             f"  columns: {len(draft.columns)} ({', '.join(f'{n} {t}' for t, n in sorted(types.items()))})",
             f"  row identifier: {draft.row_identifier or 'none (each refresh replaces the dataset)'}",
             f"  watermark: {draft.watermark or 'none (each refresh reads the whole source)'}"]
    if draft.privacy:
        lines.append("  privacy suggestions:")
        lines += [f"    {line}" for line in draft.privacy]
    else:
        lines.append("  privacy: the scanner found no personal data in the sample or the column names")
    if draft.quasi_identifiers:
        lines.append(f"  small cells: quasi_identifiers {', '.join(draft.quasi_identifiers)} with k 11")
    lines += [f"  note: {note}" for note in draft.notes[1:]]
    todos = draft.todos
    if todos:
        lines.append(f"{len(todos)} TODO(s) for a person to write:")
        line_of = _line_finder(result)
        where = str(result.path) if result.path else "(draft)"
        for loc, text in todos:
            line = line_of(loc)
            lines.append(f"  {where}:{line}: {format_loc(loc)}: {text}" if line else f"  {format_loc(loc)}: {text}")
    else:
        lines.append("No TODO left.")
    include = f" --include {include_dir}" if include_dir != settings.include_dir() else ""
    lines += ["Next: replace the TODOs, read the comments, then", f"  opendata lint{include}",
              f"  opendata check {draft.data['id']}{include}"]
    return "\n".join(lines)


def _line_finder(result: NewResult) -> Callable[[Loc], int | None]:
    from opendata.spec.validate import YamlDocument

    try:
        doc = YamlDocument.parse(result.path or Path("draft.yaml"), result.text)
    except Exception:  # noqa: BLE001 - lines are a courtesy
        return lambda loc: None
    return doc.line_of
