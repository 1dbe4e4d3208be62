"""What a dataset file alone decides, beyond its schema: names that must agree within the
file, with its own path, and with the ids the project keeps.

Everything here depends only on the file's text and path, so its result can be kept between
DAG parses (opendata.spec.cache); checks against the governance file, the file system and the
clock are in the loader and run on every parse.
"""

from __future__ import annotations

from pathlib import Path

from opendata.spec.dataset import DatasetSpec
from opendata.spec.errors import Loc, Problem, did_you_mean
from opendata.spec.freshness import freshness_problems
from opendata.spec.privacy import MaskMethod
from opendata.spec.reserved import reserved_problem
from opendata.spec.vocab import SocrataType


def file_problems(spec: DatasetSpec, path: Path) -> list[Problem]:
    problems: list[Problem] = []
    reserved = reserved_problem(spec.id)
    if reserved is not None:
        problems.append((("id",), reserved, None))
    if path.stem != spec.id:
        problems.append((("id",), f"must match the file name {path.stem!r}", path.stem))
    if path.parent.name != spec.department:
        problems.append((("department",), f"must match the folder name {path.parent.name!r}",
                         path.parent.name))
    row_id = spec.publishing.row_identifier
    if row_id is not None and row_id not in spec.field_names:
        problems.append((("publishing", "row_identifier"), f"{row_id!r} is not a column of the data dictionary",
                         did_you_mean(row_id, spec.field_names)))
    watermark = spec.source.watermark
    if watermark is not None and watermark not in spec.field_names:
        problems.append((("source", "watermark"), f"{watermark!r} is not a column of the data dictionary",
                         did_you_mean(watermark, spec.field_names)))
    elif watermark is not None and next(c for c in spec.columns if c.field_name == watermark).type.value not in (
            "number", "floating_timestamp", "fixed_timestamp"):
        problems.append((("source", "watermark"), "a watermark must be a number or timestamp column", None))
    if spec.refresh_mode == "upsert" and row_id is None:
        problems.append((("refresh", "mode"), "upsert needs publishing.row_identifier; without one a dataset "
                         "can only be replaced", "replace"))
    problems += _quality_problems(spec) + _privacy_problems(spec)
    problems += freshness_problems(spec)
    return problems


_NUMBER = {SocrataType.NUMBER}
_TIMESTAMPS = {SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP}
_TEXTS = {SocrataType.TEXT, SocrataType.URL, SocrataType.POINT}
# Which quality checks make sense for which column types (not_null and unique: all of them).
_CHECK_TYPES = {"range": (_NUMBER, "number"), "date_range": (_TIMESTAMPS, "timestamp"), "pattern": (_TEXTS, "text")}
_MASK_TYPES = {MaskMethod.KEEP_FIRST: ({SocrataType.TEXT}, "text"),
               MaskMethod.HUNDRED_BLOCK: ({SocrataType.TEXT}, "text"),
               MaskMethod.MONTH: (_TIMESTAMPS, "timestamp"), MaskMethod.YEAR: (_TIMESTAMPS, "timestamp")}


def _unknown_column(loc: Loc, name: str, spec: DatasetSpec) -> Problem:
    return loc, f"{name!r} is not a column of the data dictionary", did_you_mean(name, spec.field_names)


def _quality_problems(spec: DatasetSpec) -> list[Problem]:
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


def _privacy_problems(spec: DatasetSpec) -> list[Problem]:
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
        if name == spec.publishing.row_identifier:
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
