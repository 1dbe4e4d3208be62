"""What a dataset file alone decides, beyond its schema: names that must agree within the
file, with its own path, and with the ids the project keeps.

Everything here depends only on the file's text and path, so its result can be kept between
DAG parses (opendata.spec.cache); checks against the governance file, the file system and the
clock are in the loader and run on every parse.

A planned file (``status: planned``) gets the same checks on the sections it has: a section that
names a column before the data dictionary (``columns``) is written is told to wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opendata.spec.dataset import Column, DatasetFile, DatasetSpec
from opendata.spec.errors import Loc, Problem, did_you_mean
from opendata.spec.freshness import FreshnessSection, freshness_problems
from opendata.spec.privacy import MaskMethod, Privacy
from opendata.spec.quality import Quality
from opendata.spec.reserved import reserved_problem
from opendata.spec.vocab import SocrataType


@dataclass(frozen=True)
class _Sections:
    """What the checks between sections read, from a file that runs or a planned one."""

    columns: list[Column]
    # False: a planned file whose data dictionary is not written yet (``columns`` is empty).
    dictionary_written: bool
    row_identifier: str | None
    watermark: str | None
    refresh_mode: str | None
    quality: Quality
    privacy: Privacy
    freshness: FreshnessSection

    @property
    def field_names(self) -> list[str]:
        return [column.field_name for column in self.columns]

    @classmethod
    def of(cls, spec: DatasetFile) -> _Sections:
        if isinstance(spec, DatasetSpec):
            return cls(spec.columns, True, spec.publishing.row_identifier, spec.source.watermark,
                       spec.refresh_mode, spec.quality, spec.privacy, spec.freshness)
        row_id = spec.publishing.row_identifier if spec.publishing is not None else None
        # A planned file without publishing has no row identifier yet: only an explicit mode is judged.
        mode = spec.refresh.mode or ("upsert" if row_id else None)
        return cls(spec.columns or [], spec.columns is not None, row_id,
                   spec.source.watermark if spec.source is not None else None, mode, spec.quality, spec.privacy,
                   spec.freshness)


def file_problems(spec: DatasetFile, path: Path) -> list[Problem]:
    problems: list[Problem] = []
    reserved = reserved_problem(spec.id)
    if reserved is not None:
        problems.append((("id",), reserved, None))
    if path.stem != spec.id:
        problems.append((("id",), f"must match the file name {path.stem!r}", path.stem))
    if path.parent.name != spec.department:
        problems.append((("department",), f"must match the folder name {path.parent.name!r}",
                         path.parent.name))
    sections = _Sections.of(spec)
    row_id = sections.row_identifier
    if row_id is not None and row_id not in sections.field_names:
        problems.append(_unknown_column(("publishing", "row_identifier"), row_id, sections))
    watermark = sections.watermark
    if watermark is not None and watermark not in sections.field_names:
        problems.append(_unknown_column(("source", "watermark"), watermark, sections))
    elif watermark is not None and next(c for c in sections.columns if c.field_name == watermark).type.value not in (
            "number", "floating_timestamp", "fixed_timestamp"):
        problems.append((("source", "watermark"), "a watermark must be a number or timestamp column", None))
    if sections.refresh_mode == "upsert" and row_id is None:
        problems.append((("refresh", "mode"), "upsert needs publishing.row_identifier; without one a dataset "
                         "can only be replaced", "replace"))
    problems += _quality_problems(sections) + _privacy_problems(sections)
    newest = sections.freshness.newest_date_column
    if newest is not None:
        types = {c.field_name: c.type.value for c in sections.columns}
        if newest not in types:
            problems.append(_unknown_column(("freshness", "newest_date_column"), newest, sections))
        elif types[newest] not in _TIMESTAMP_TYPES:
            problems.append((("freshness", "newest_date_column"),
                             f"must be a date column (floating_timestamp or fixed_timestamp); {newest} is "
                             f"{types[newest]}", None))
    problems += freshness_problems(spec.freshness, spec.update_frequency)
    return problems


_TIMESTAMP_TYPES = ("floating_timestamp", "fixed_timestamp")


_NUMBER = {SocrataType.NUMBER}
_TIMESTAMPS = {SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP}
_TEXTS = {SocrataType.TEXT, SocrataType.URL, SocrataType.POINT}
# Which quality checks make sense for which column types (not_null and unique: all of them).
_CHECK_TYPES = {"range": (_NUMBER, "number"), "date_range": (_TIMESTAMPS, "timestamp"), "pattern": (_TEXTS, "text")}
_MASK_TYPES = {MaskMethod.KEEP_FIRST: ({SocrataType.TEXT}, "text"),
               MaskMethod.HUNDRED_BLOCK: ({SocrataType.TEXT}, "text"),
               MaskMethod.MONTH: (_TIMESTAMPS, "timestamp"), MaskMethod.YEAR: (_TIMESTAMPS, "timestamp")}


def _unknown_column(loc: Loc, name: str, spec: _Sections) -> Problem:
    if not spec.dictionary_written:
        return loc, (f"{name!r} names a column, and this planned file has no data dictionary yet: write columns, or "
                     f"leave this out until they are written"), None
    return loc, f"{name!r} is not a column of the data dictionary", did_you_mean(name, spec.field_names)


def _quality_problems(spec: _Sections) -> list[Problem]:
    """Column names in quality: exist, and each check suits its column's type."""
    problems: list[Problem] = []
    types = {c.field_name: c.type for c in spec.columns}
    for name, checks in spec.quality.columns.items():
        loc: Loc = ("quality", "columns", name)
        if name not in types:
            problems.append(_unknown_column(loc, name, spec))
            continue
        for check, (allowed, words) in _CHECK_TYPES.items():
            if getattr(checks, check) is not None and types[name] not in allowed:
                problems.append((loc + (check,), f"{check} applies to {words} columns; {name} is {types[name].value}",
                                 None))
        if checks.allowed_values is not None:
            values = checks.allowed_values.values
            if types[name] in _TEXTS and not all(isinstance(v, str) for v in values):
                problems.append((loc + ("allowed_values", "values"),
                                 f"{name} is a text column: give every value as text (quote numbers, '311')", None))
            elif types[name] is SocrataType.NUMBER and not all(type(v) in (int, float) for v in values):
                problems.append((loc + ("allowed_values", "values"), f"{name} is a number column: give numbers", None))
            elif types[name] is SocrataType.CHECKBOX and not all(isinstance(v, bool) for v in values):
                problems.append((loc + ("allowed_values", "values"),
                                 f"{name} is a checkbox column: give true or false", None))
            elif types[name] in _TIMESTAMPS:
                problems.append((loc + ("allowed_values",), "allowed_values does not apply to timestamp columns; "
                                 "use date_range", None))
    for i, comparison in enumerate(spec.quality.table.comparisons):
        loc = ("quality", "table", "comparisons", i)
        known = True
        for key in ("column", "other"):
            name = getattr(comparison, key)
            if name not in types:
                problems.append(_unknown_column(loc + (key,), name, spec))
                known = False
        if known and types[comparison.column] is not types[comparison.other]:
            problems.append((loc, f"cannot compare {comparison.column} ({types[comparison.column].value}) with "
                             f"{comparison.other} ({types[comparison.other].value})", None))
    return problems


def _privacy_problems(spec: _Sections) -> list[Problem]:
    """Column names in privacy: exist (removed ones must not); masks suit the column's type."""
    problems: list[Problem] = []
    privacy = spec.privacy
    types = {c.field_name: c.type for c in spec.columns}
    for name in privacy.allowed:
        if name not in types:
            problems.append(_unknown_column(("privacy", "allowed", name), name, spec))
    for name, rule in privacy.mask.items():
        loc = ("privacy", "mask", name)
        if name not in types:
            problems.append(_unknown_column(loc, name, spec))
            continue
        if name == spec.row_identifier:
            problems.append((loc, "the row identifier cannot be masked: refreshes find rows by it", None))
        allowed, words = _MASK_TYPES.get(rule.method, (None, ""))
        if allowed is not None and types[name] not in allowed:
            problems.append((loc + ("method",), f"{rule.method.value} masks {words} columns; {name} is "
                             f"{types[name].value}", None))
    published = {c.source_name: i for i, c in enumerate(spec.columns)}
    for i, name in enumerate(privacy.remove):
        if name in published:
            problems.append((("privacy", "remove", i), f"{name!r} is a published column (columns[{published[name]}]); "
                             f"take it out of the data dictionary, or mask it instead", None))
    if privacy.quasi_identifiers is not None:
        for i, name in enumerate(privacy.quasi_identifiers.columns):
            if name not in types:
                problems.append(_unknown_column(("privacy", "quasi_identifiers", "columns", i), name, spec))
    return problems
