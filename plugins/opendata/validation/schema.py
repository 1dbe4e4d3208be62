"""Schema and type checks: the staged file has the dictionary's columns and types, and every
source value fitted its declared type.

The staged Parquet file is typed by the extract step (``opendata.sources.coerce``), so a value
that did not fit its type is already empty there; what is left to check is the extract's own
count of those values, and that the file is the one the dictionary describes (an extract
staged under an older dictionary must not be validated against a newer one).
"""

from __future__ import annotations

import pyarrow as pa

from opendata.sources.coerce import arrow_schema
from opendata.spec.dataset import DatasetSpec
from opendata.validation.findings import Area, CheckResult, result


def schema_result(spec: DatasetSpec, staged_schema: pa.Schema, file_rows: int, reported_rows: int) -> CheckResult:
    """The staged file's columns, order and types are the dictionary's; its row count is the extract's."""
    expected = arrow_schema(spec)
    problems = []
    missing = [name for name in expected.names if name not in staged_schema.names]
    extra = [name for name in staged_schema.names if name not in expected.names]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if extra:
        problems.append(f"columns not in the data dictionary: {', '.join(extra)}")
    for fld in expected:
        if fld.name in staged_schema.names and not staged_schema.field(fld.name).type.equals(fld.type):
            problems.append(f"{fld.name} is {staged_schema.field(fld.name).type}, expected {fld.type}")
    if not missing and not extra and staged_schema.names != expected.names:
        problems.append("columns are not in the dictionary's order")
    if file_rows != reported_rows:
        problems.append(f"the file has {file_rows:,} rows, the extract reported {reported_rows:,}")
    return result(Area.SCHEMA, "schema", None, "error", len(problems), len(expected),
                  "the staged file has the data dictionary's columns and types",
                  note="; ".join(problems) or None)


def type_results(spec: DatasetSpec, coercion: dict, rows: int, reveal_ids: bool) -> list[CheckResult]:
    """One result per column: values the extract could not convert to the declared type.

    ``coercion`` is ``StagedExtract.coercion``; its samples are row identifiers (or "row N"
    positions), dropped when identifiers must not be shown.
    """
    failures = coercion.get("failures", {}) if coercion else {}
    samples = coercion.get("samples", {}) if coercion else {}
    severity = spec.quality.table.types.severity
    out = []
    for column in spec.columns:
        count = int(failures.get(column.field_name, 0))
        shown = tuple(samples.get(column.field_name, [])) if reveal_ids else ()
        out.append(result(Area.SCHEMA, "type", column.field_name, severity, count, rows,
                          f"values are {column.type.value}", samples=shown,
                          note="staged as empty" if count else None))
    return out
