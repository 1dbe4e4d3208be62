"""The dataset file's ``quality:`` section: the checks run on every extract before publication.

The playbook asks for data "vetted for reasonability and accuracy"; these are the vetting
rules, written next to the data dictionary they apply to. Every check says whether a failure
blocks publication (``severity: error``, the default: the safe side) or is only reported
(``severity: warning``).

    quality:
      columns:
        valuation:
          not_null: {max_null_share: 0.01, severity: warning}
          range: {min: 0, severity: warning}
        zip_code:
          pattern: {regex: '\\d{5}', severity: warning}
        issue_date:
          date_range: {min: 2019-01-01, severity: warning}   # and no future dates
      table:
        row_count: {min: 1000}
        row_count_change: {max_share: 0.5}
        comparisons:
          - {column: closed_date, op: ">=", other: created_date, severity: warning}

Column names are checked against the data dictionary by the loader, with "did you mean" hints.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from opendata.spec.base import StrictModel

Severity = Literal["error", "warning"]


class _Check(StrictModel):
    # An error blocks publication; a warning is reported and the run goes on.
    severity: Severity = "error"


class NotNull(_Check):
    """Required values: at most this share of rows may be empty (0 = every row has one)."""

    max_null_share: Annotated[float, Field(ge=0, lt=1)] = 0


class Unique(_Check):
    """No two rows share a value (empty values are not compared)."""


class AllowedValues(_Check):
    """Every value is one of a closed list (text columns: quote numbers-as-text, "311")."""

    values: list[str | float | bool] = Field(min_length=1)


class Range(_Check):
    """Numbers within bounds, both inclusive: what a reasonable value looks like."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class DateRange(_Check):
    """Dates within bounds (inclusive, whole days); future dates fail unless allowed.

    Every timestamp column gets the "no future dates" check even without this entry (an
    error); declare ``date_range`` to change its severity or to allow future dates.
    """

    min: dt.date | None = None
    max: dt.date | None = None
    allow_future: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> DateRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is after max")
        return self


class Pattern(_Check):
    """Text in a fixed format: the whole value must match the regular expression."""

    regex: str = Field(min_length=1)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class ColumnQuality(StrictModel):
    """The checks of one column of the data dictionary."""

    not_null: NotNull | None = None
    unique: Unique | None = None
    allowed_values: AllowedValues | None = None
    range: Range | None = None
    date_range: DateRange | None = None
    pattern: Pattern | None = None


class RowCount(_Check):
    """The extract's row count within bounds (inclusive)."""

    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class RowCountChange(_Check):
    """Rows gained or lost since the last successful publication, as a share of its rows.

    A sudden drop is the classic sign of a broken extract (a failed join, a truncated
    export); a sudden jump, of duplicated rows.
    """

    max_share: Annotated[float, Field(gt=0)]


class Comparison(_Check):
    """Two columns of the same row in order, e.g. closed_date >= created_date.

    Rows where either value is empty are not compared.
    """

    column: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    other: str


class TypeConformance(_Check):
    """Values that did not fit their column's declared type (they were staged as empty)."""


class RowIdentifier(_Check):
    """The row identifier is present and unique: refreshes update rows by it."""


class TableQuality(StrictModel):
    row_count: RowCount | None = None
    row_count_change: RowCountChange | None = None
    comparisons: list[Comparison] = Field(default_factory=list)
    types: TypeConformance = Field(default_factory=TypeConformance)
    row_identifier: RowIdentifier = Field(default_factory=RowIdentifier)


class Quality(StrictModel):
    # Data dictionary field name -> the column's checks.
    columns: dict[str, ColumnQuality] = Field(default_factory=dict)
    table: TableQuality = Field(default_factory=TableQuality)
