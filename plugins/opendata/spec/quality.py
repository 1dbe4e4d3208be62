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
        cell_size: {max_bytes: 4000}       # text cells; 2,048 bytes by default
        ragged_rows: {severity: error}     # CSV rows with too few or too many fields

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


# Socrata (Tyler Data & Insights) accepts text values "up to 4kb in size" through its API, about
# 4,000 ASCII characters (support article "Dataset Validation for Column Data Type Values").
PORTAL_TEXT_CELL_BYTES = 4096
# Half of it by default: a cell that long is more often a document pasted into a field, or two
# fields run together, than a value; a dataset that needs longer text says so in its file.
DEFAULT_MAX_CELL_BYTES = 2048


class CellSize(_Check):
    """Text cells (text, url, point) at most this many bytes (UTF-8), as staged."""

    max_bytes: Annotated[int, Field(ge=1, le=PORTAL_TEXT_CELL_BYTES)] = DEFAULT_MAX_CELL_BYTES


class RaggedRows(_Check):
    """CSV rows with more or fewer fields than the header (Excel: values right of the header).

    Such rows are never staged, whatever the severity: their values may sit under the wrong
    columns. An error (the default) stops publication; a warning publishes without them.
    """


class TableQuality(StrictModel):
    row_count: RowCount | None = None
    row_count_change: RowCountChange | None = None
    comparisons: list[Comparison] = Field(default_factory=list)
    types: TypeConformance = Field(default_factory=TypeConformance)
    row_identifier: RowIdentifier = Field(default_factory=RowIdentifier)
    cell_size: CellSize = Field(default_factory=CellSize)
    ragged_rows: RaggedRows = Field(default_factory=RaggedRows)


class Quality(StrictModel):
    # Data dictionary field name -> the column's checks.
    columns: dict[str, ColumnQuality] = Field(default_factory=dict)
    table: TableQuality = Field(default_factory=TableQuality)
