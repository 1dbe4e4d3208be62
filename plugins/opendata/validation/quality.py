"""Quality checks from the dataset file's ``quality:`` section, run with pandera chunk by chunk.

pandera holds the per-row rules (required values, allowed values, ranges, dates, formats,
comparisons between columns): a ``DataFrameSchema`` built once from the file, validated with
``lazy=True`` on every chunk so that every failure is collected, not just the first. What
pandera cannot see from one chunk is added up here: counts and sample rows across chunks, the
share of empty values, uniqueness (``uniqueness.py``) and the table-level row counts.

pandera's failure cases hold the failing values; they are reduced at once to a count and row
positions per check, and the values are dropped.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from opendata.spec.dataset import Column, DatasetSpec
from opendata.spec.quality import ColumnQuality, Comparison, DateRange, Severity
from opendata.spec.vocab import SocrataType
from opendata.validation.findings import Area, CheckResult, SampleRows, result, skipped

TIMESTAMPS = {SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP}

# A floating timestamp is local time somewhere, compared with the clock in UTC: a day of slack
# keeps "today" in any time zone from counting as the future. Fixed timestamps are UTC; a few
# minutes cover clock skew between the source system and this machine.
FLOATING_FUTURE_SLACK = dt.timedelta(days=1)
FIXED_FUTURE_SLACK = dt.timedelta(minutes=5)

_OPS: dict[str, Callable] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
                             "==": operator.eq, "!=": operator.ne}


@dataclass(frozen=True)
class PlannedCheck:
    key: str
    check: str
    column: str | None
    severity: Severity
    rule: str
    # not_null: the share of empty rows tolerated; the check fails only beyond it.
    max_share: float | None = None


@dataclass
class QualityPlan:
    """The pandera schema for a dataset, and which of its checks is which file entry."""

    checks: list[PlannedCheck]
    schema: pa.DataFrameSchema
    # (column, pandera check number) -> PlannedCheck.key; (column, None) is its not-null check.
    column_keys: dict[tuple[str, int | None], str]
    frame_keys: dict[int, str]
    # Columns whose uniqueness is tracked across chunks, with the key of their check.
    unique_columns: dict[str, str]


class _Planner:
    """Collects planned checks and the pandera objects that run them, keeping them in step."""

    def __init__(self) -> None:
        self.checks: list[PlannedCheck] = []
        self.column_keys: dict[tuple[str, int | None], str] = {}
        self.pandera_checks: list[pa.Check] = []
        self.column = ""

    def start(self, column: str) -> None:
        self.column, self.pandera_checks = column, []

    def add(self, check: str, severity: Severity, rule: str, pandera_check: pa.Check | None = None,
            max_share: float | None = None) -> str:
        key = f"{check}:{self.column}:{len(self.checks)}"
        self.checks.append(PlannedCheck(key, check, self.column, severity, rule, max_share))
        if pandera_check is not None:
            # pandera numbers a column's checks in order: its failure cases name the number.
            self.column_keys[(self.column, len(self.pandera_checks))] = key
            self.pandera_checks.append(pandera_check)
        return key


def plan_quality(spec: DatasetSpec, now: dt.datetime) -> QualityPlan:
    """Build the checks of ``spec`` (pure: the clock comes in as ``now``, timezone-aware)."""
    planner = _Planner()
    columns: dict[str, pa.Column] = {}
    unique_columns: dict[str, str] = {}
    row_id = spec.publishing.row_identifier
    row_id_severity = spec.quality.table.row_identifier.severity

    for column in spec.columns:
        name = column.field_name
        declared = spec.quality.columns.get(name) or ColumnQuality()
        implied = " (row identifier)" if name == row_id else ""
        planner.start(name)
        nullable = True
        if declared.not_null is not None or name == row_id:
            nullable = False
            severity = declared.not_null.severity if declared.not_null else row_id_severity
            share = declared.not_null.max_null_share if declared.not_null else 0.0
            rule = "every row has a value" if share == 0 else f"at most {share:.2%} of rows are empty"
            planner.column_keys[(name, None)] = planner.add("not_null", severity, rule + implied, max_share=share)
        if declared.unique is not None or name == row_id:
            severity = declared.unique.severity if declared.unique else row_id_severity
            unique_columns[name] = planner.add("unique", severity, "no two rows share a value" + implied)
        if declared.allowed_values:
            values = declared.allowed_values.values
            shown = ", ".join(str(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
            planner.add("allowed_values", declared.allowed_values.severity, f"one of: {shown}",
                        pa.Check.isin(values))
        if declared.range:
            low, high = declared.range.min, declared.range.max
            planner.add("range", declared.range.severity, _range_words(low, high), _range_check(low, high))
        if declared.pattern:
            regex = declared.pattern.regex
            planner.add("pattern", declared.pattern.severity, f"the whole value matches {regex}",
                        pa.Check(lambda s, regex=regex: s.str.fullmatch(regex).fillna(False).astype(bool)))
        if column.type in TIMESTAMPS:
            _plan_dates(column, declared.date_range, now, planner)
        columns[name] = pa.Column(checks=planner.pandera_checks, nullable=nullable, required=True)

    frame_checks: list[pa.Check] = []
    frame_keys: dict[int, str] = {}
    for comparison in spec.quality.table.comparisons:
        planner.start(comparison.column)
        frame_keys[len(frame_checks)] = planner.add(
            "comparison", comparison.severity,
            f"{comparison.column} {comparison.op} {comparison.other} (rows with either empty are not compared)")
        frame_checks.append(pa.Check(_comparison(comparison)))
    # No dtype checks here: the staged file's Arrow schema is checked as a whole (schema.py),
    # and pandas' dtype for a nullable boolean column varies with its contents.
    schema = pa.DataFrameSchema(columns, checks=frame_checks, strict=False, coerce=False)
    return QualityPlan(planner.checks, schema, planner.column_keys, frame_keys, unique_columns)


def _range_words(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _range_check(low: float | None, high: float | None) -> pa.Check:
    if low is not None and high is not None:
        return pa.Check.in_range(low, high)
    return pa.Check.ge(low) if low is not None else pa.Check.le(high)


def _plan_dates(column: Column, declared: DateRange | None, now: dt.datetime, planner: _Planner) -> None:
    fixed = column.type is SocrataType.FIXED_TIMESTAMP

    def stamp(value: dt.datetime) -> pd.Timestamp:
        return pd.Timestamp(value).tz_convert("UTC") if fixed else pd.Timestamp(value.replace(tzinfo=None))

    def day(value: dt.date) -> pd.Timestamp:
        return stamp(dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC))

    severity: Severity = declared.severity if declared else "error"
    if declared and (declared.min or declared.max):
        low = day(declared.min) if declared.min else None
        # max is a whole day: everything before the next midnight is in range.
        high = day(declared.max + dt.timedelta(days=1)) if declared.max else None
        words = (f"from {declared.min} " if declared.min else "") + (f"to {declared.max}" if declared.max else "")
        planner.add("date_range", severity, words.strip() + " (inclusive)",
            pa.Check(lambda s, low=low, high=high: ((s >= low) if low is not None else True)
                     & ((s < high) if high is not None else True)))
    if not (declared and declared.allow_future):
        now_utc = now.astimezone(dt.UTC)
        limit = stamp(now_utc + (FIXED_FUTURE_SLACK if fixed else FLOATING_FUTURE_SLACK))
        planner.add("no_future_dates", severity, "no dates in the future", pa.Check(lambda s, limit=limit: s <= limit))


def _comparison(comparison: Comparison) -> Callable[[pd.DataFrame], pd.Series]:
    compare = _OPS[comparison.op]

    def check(frame: pd.DataFrame) -> pd.Series:
        left, right = frame[comparison.column], frame[comparison.other]
        return (left.isna() | right.isna() | compare(left, right)).astype(bool)

    return check


def chunk_failures(plan: QualityPlan, frame: pd.DataFrame) -> dict[str, pd.Index]:
    """Run the plan's pandera schema on one chunk: failing row labels per check key.

    The frame's index must be the rows' positions in the extract. Failure cases pandera could
    not attribute to a planned check come back under ``pandera:<check>``.
    """
    try:
        plan.schema.validate(frame, lazy=True, inplace=True)
        return {}
    except SchemaErrors as exc:
        # Keep only where and which check; the failing values go no further than this line.
        cases = exc.failure_cases[["schema_context", "column", "check", "check_number", "index"]]
    out: dict[str, list] = {}
    for (context, column, check, number), group in cases.groupby(
            ["schema_context", "column", "check", "check_number"], dropna=False, sort=False):
        if context == "DataFrameSchema" and not pd.isna(number):
            key = plan.frame_keys.get(int(number))
        elif check == "not_nullable":
            key = plan.column_keys.get((column, None))
        elif not pd.isna(number):
            key = plan.column_keys.get((column, int(number)))
        else:
            key = None
        out.setdefault(key or f"pandera:{check}", []).extend(group["index"].dropna().tolist())
    # A frame-wide check reports each failing row once per column: count rows, not cells.
    return {key: pd.Index(sorted(set(rows))) for key, rows in out.items()}


@dataclass
class QualityTally:
    """Counts and sample rows per check, added up over the chunks."""

    plan: QualityPlan
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, SampleRows] = field(default_factory=dict)

    def add(self, failures: dict[str, pd.Index], row_ids: pd.Series) -> None:
        for key, index in failures.items():
            self.counts[key] = self.counts.get(key, 0) + len(index)
            first = index[:5]
            ids = row_ids.reindex(first)
            self.samples.setdefault(key, SampleRows()).add(
                [int(i) for i in first], [None if pd.isna(v) else str(v) for v in ids])

    def results(self, rows: int, reveal_ids: bool, unique_counts: dict[str, tuple[int, SampleRows]]) -> list[
            CheckResult]:
        """One result per planned check (and per unplanned pandera failure)."""
        out = []
        planned = {c.key for c in self.plan.checks}
        for c in self.plan.checks:
            if c.check == "unique":
                failing, samples = unique_counts.get(c.column or "", (0, SampleRows()))
            else:
                failing, samples = self.counts.get(c.key, 0), self.samples.get(c.key, SampleRows())
            passed = failing == 0 if c.max_share is None else failing <= c.max_share * rows
            note = f"{failing:,} empty ({failing / rows:.2%}), tolerated" if passed and failing else None
            out.append(result(Area.QUALITY, c.check, c.column, c.severity, failing, rows, c.rule,
                              samples=samples.shown(reveal_ids), passed=passed, note=note))
        for key in sorted(set(self.counts) - planned):
            out.append(result(Area.QUALITY, key, None, "error", self.counts[key], rows,
                              "pandera schema check", samples=self.samples[key].shown(reveal_ids)))
        return out


def table_results(spec: DatasetSpec, rows: int, previous_rows: int | None,
                  incremental: bool = False) -> list[CheckResult]:
    """Row count within bounds; change against the last successful publication.

    An incremental extract holds only the rows changed since the last watermark, so the
    table's row-count rules do not apply to it (they are listed as skipped)."""
    table = spec.quality.table
    out = []
    if incremental:
        for name, rule in (("row_count", table.row_count), ("row_count_change", table.row_count_change)):
            if rule is not None:
                out.append(skipped(Area.QUALITY, name, None, rule.severity, "table row count",
                                   "incremental extract: only the rows changed since the last watermark"))
        return out
    if table.row_count is not None:
        low, high = table.row_count.min, table.row_count.max
        words = " and ".join(w for w in [f"at least {low:,}" if low is not None else "",
                                          f"at most {high:,}" if high is not None else ""] if w)
        ok = (low is None or rows >= low) and (high is None or rows <= high)
        out.append(result(Area.QUALITY, "row_count", None, table.row_count.severity, 0 if ok else 1, rows,
                          f"{words} rows", passed=ok, note=None if ok else f"the extract has {rows:,} rows"))
    change = table.row_count_change
    if change is not None:
        described = f"row count within {change.max_share:.0%} of the last publication"
        if previous_rows is None:
            out.append(skipped(Area.QUALITY, "row_count_change", None, change.severity, described,
                               "no previous publication to compare with"))
        else:
            signed = (rows - previous_rows) / max(previous_rows, 1)
            ok = abs(signed) <= change.max_share
            out.append(result(Area.QUALITY, "row_count_change", None, change.severity, 0 if ok else 1, rows,
                              described, passed=ok, note=f"{previous_rows:,} -> {rows:,} rows ({signed:+.1%})"))
    return out
