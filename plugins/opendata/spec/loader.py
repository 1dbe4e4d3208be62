"""Load the governance file and every dataset file, checking references between them.

A broken file never stops the others: the catalog holds every dataset that is valid and a
list of errors for those that are not, so the DAG factory can build the good ones and the
lint command can report all problems in one pass.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from opendata import settings
from opendata.spec.dataset import DatasetSpec, SqlSource
from opendata.spec.errors import SpecError, SpecFileError, did_you_mean
from opendata.spec.freshness import freshness_problems
from opendata.spec.governance import Governance
from opendata.spec.privacy import MaskMethod
from opendata.spec.validate import SpecParseError, YamlDocument, validate_document
from opendata.spec.vocab import SocrataType


@dataclass(frozen=True)
class LoadedDataset:
    spec: DatasetSpec
    path: Path


@dataclass
class Catalog:
    governance: Governance | None
    datasets: list[LoadedDataset] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)

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


def load_catalog(include_dir: Path | None = None) -> Catalog:
    include = include_dir or settings.include_dir()
    governance, errors = load_governance(include / "governance.yaml")
    catalog = Catalog(governance=governance, errors=errors)
    datasets_dir = include / "datasets"
    stray = sorted(p for p in datasets_dir.glob("*.y*ml")) if datasets_dir.is_dir() else []
    for path in stray:
        catalog.errors.append(SpecError(path, (), "dataset files belong in a department folder: "
                                        "datasets/<department>/<dataset id>.yaml"))
    for path in dataset_files(datasets_dir):
        spec, file_errors = load_dataset(path, governance, include)
        catalog.errors += file_errors
        if spec is not None:
            catalog.datasets.append(LoadedDataset(spec, path))
    _reject_duplicate_ids(catalog)
    return catalog


def load_governance(path: Path) -> tuple[Governance | None, list[SpecError]]:
    try:
        doc = YamlDocument.read(path)
    except SpecParseError as exc:
        return None, [exc.error]
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
    """Validate one dataset file; ``governance`` None skips the cross-file checks."""
    try:
        doc = YamlDocument.read(path)
    except SpecParseError as exc:
        return None, [exc.error]
    spec, errors = validate_document(DatasetSpec, doc)
    if spec is None:
        return None, errors
    problems = _reference_problems(spec, path, governance, include_dir or settings.include_dir())
    errors = [SpecError(path, loc, message, hint, doc.line_of(loc)) for loc, message, hint in problems]
    return (spec if not errors else None), errors


def _reference_problems(spec: DatasetSpec, path: Path, governance: Governance | None,
                        include_dir: Path) -> list[tuple[tuple, str, str | None]]:
    problems: list[tuple[tuple, str, str | None]] = []
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
    if isinstance(spec.source, SqlSource) and spec.source.query_file:
        sql_dir = include_dir / "sql"
        if not (sql_dir / spec.source.query_file).is_file():
            existing = [p.name for p in sql_dir.glob("*.sql")] if sql_dir.is_dir() else []
            problems.append((("source", "query_file"), f"no such file in {sql_dir}",
                             did_you_mean(spec.source.query_file, existing)))
    if isinstance(spec.source, SqlSource):
        from opendata.sources.sql_lint import query_problems  # one read statement (the sources own the rule)

        problems += query_problems(spec.source, include_dir)
    problems += _quality_problems(spec) + _privacy_problems(spec, governance)
    problems += freshness_problems(spec)
    if governance is not None:
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
    return problems


Problem = tuple[tuple, str, str | None]

_NUMBER = {SocrataType.NUMBER}
_TIMESTAMPS = {SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP}
_TEXTS = {SocrataType.TEXT, SocrataType.URL, SocrataType.POINT}
# Which quality checks make sense for which column types (not_null and unique: all of them).
_CHECK_TYPES = {"range": (_NUMBER, "number"), "date_range": (_TIMESTAMPS, "timestamp"), "pattern": (_TEXTS, "text")}
_MASK_TYPES = {MaskMethod.KEEP_FIRST: ({SocrataType.TEXT}, "text"),
               MaskMethod.HUNDRED_BLOCK: ({SocrataType.TEXT}, "text"),
               MaskMethod.MONTH: (_TIMESTAMPS, "timestamp"), MaskMethod.YEAR: (_TIMESTAMPS, "timestamp")}


def _unknown_column(loc: tuple, name: str, spec: DatasetSpec) -> Problem:
    return loc, f"{name!r} is not a column of the data dictionary", did_you_mean(name, spec.field_names)


def _quality_problems(spec: DatasetSpec) -> list[Problem]:
    """Column names in quality: exist, and each check suits its column's type."""
    problems: list[Problem] = []
    types = {c.field_name: c.type for c in spec.columns}
    for name, checks in spec.quality.columns.items():
        loc = ("quality", "columns", name)
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


def _privacy_problems(spec: DatasetSpec, governance: Governance | None) -> list[Problem]:
    """Column names in privacy: exist (removed ones must not); masks suit the column's type;
    a level 2 approval comes from someone who may give it."""
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
    approval = spec.classification.approval
    if approval is not None and governance is not None:
        department = governance.departments.get(spec.department)
        approvers = [governance.chief_data_officer] + (department.leadership if department else [])
        if approval.approved_by not in approvers:
            problems.append((("classification", "approval", "approved_by"),
                             f"{approval.approved_by!r} may not approve level 2 data: the Chief Data Officer or "
                             f"the department's leadership in governance.yaml may",
                             did_you_mean(approval.approved_by, approvers)))
    return problems


def _reject_duplicate_ids(catalog: Catalog) -> None:
    counts = Counter(loaded.spec.id for loaded in catalog.datasets)
    duplicated = {dataset_id for dataset_id, n in counts.items() if n > 1}
    if not duplicated:
        return
    for loaded in [d for d in catalog.datasets if d.spec.id in duplicated]:
        others = [str(d.path) for d in catalog.datasets if d.spec.id == loaded.spec.id and d is not loaded]
        catalog.errors.append(SpecError(loaded.path, ("id",), f"duplicate dataset id, also in {', '.join(others)}"))
    catalog.datasets = [d for d in catalog.datasets if d.spec.id not in duplicated]
