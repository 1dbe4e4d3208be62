"""What introspecting a source finds: its columns (name, source type, Socrata type, nullability,
comment, primary key) with a bounded sample of their values, and the ``source:`` section a
dataset file would read it with.

`opendata new` drafts a dataset file from a :class:`SourceProfile`; `opendata adopt` fills the
source section and compares the portal's columns with it. The three entry points are thin I/O
(opendata.scaffold.introspect_sql, introspect_file, introspect_http); what is decided from a
profile (names, types, watermark, privacy) is pure and lives in the other modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opendata.spec.vocab import SocrataType

#: Rows sampled by default: enough to see a column's kind of values and its small cells, little
#: enough that sampling a wide table takes a moment.
DEFAULT_SAMPLE_ROWS = 1000

#: What a column's values are, below the Socrata type (an integer key may be a watermark, a date
#: column gives the coverage's start date).
ValueKind = Literal["integer", "decimal", "boolean", "date", "timestamp", "text", "other"]


@dataclass(frozen=True)
class ColumnProfile:
    # The column's name in the source, as written there.
    name: str
    # The Socrata API field name it is published under (opendata.scaffold.names).
    field_name: str
    # The source's own type, for people: "TIMESTAMP WITHOUT TIME ZONE", "int64", "string" ...
    source_type: str
    socrata_type: SocrataType
    kind: ValueKind
    nullable: bool | None = None
    # The source's own description of the column (a SQL column comment), if any.
    comment: str | None = None
    is_primary_key: bool = False
    # Non-null sampled values (bounded in number and length), in row order.
    samples: tuple[Any, ...] = ()
    # Of the sampled rows: how many had no value, how many distinct values there were.
    null_count: int = 0
    distinct_count: int = 0

    @property
    def sampled_unique(self) -> bool:
        """Every sampled value present and different from the others."""
        return self.null_count == 0 and bool(self.samples) and self.distinct_count == len(self.samples)


@dataclass(frozen=True)
class SourceProfile:
    columns: tuple[ColumnProfile, ...]
    # Rows the sample read (at most the sample size asked for).
    row_count_sampled: int
    # Source names of the primary key's columns (empty: none declared).
    primary_key: tuple[str, ...]
    # The dataset file's ``source:`` section for this source (kind, conn_id, query / path / url ...).
    source: dict[str, Any]
    # What the file's ``source_system`` says: the host and database, file or API, never credentials.
    source_system: str
    # A readable default for the dataset's name: the table, file or last URL part.
    title: str
    # The source's own description of the table, if any (a SQL table comment).
    table_comment: str | None = None
    # Remarks for the person reading the draft (e.g. "types inferred from a sample of 40 rows").
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> ColumnProfile:
        """The column with this source name or field name."""
        for column in self.columns:
            if name in (column.name, column.field_name):
                return column
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [column.field_name for column in self.columns]


def profile_sql(conn_id: str, table_or_query: str, sample_rows: int = DEFAULT_SAMPLE_ROWS) -> SourceProfile:
    """A table (``name`` or ``schema.name``, through SQLAlchemy's inspector) or a read-only query
    (run for ``sample_rows`` rows only) of the Airflow connection ``conn_id``."""
    from opendata.scaffold.introspect_sql import profile_sql as run

    return run(conn_id, table_or_query, sample_rows)


def profile_file(path: Path | str, sample_rows: int = DEFAULT_SAMPLE_ROWS, *, include_dir: Path | None = None,
                 sheet: str | int | None = None, delimiter: str | None = None,
                 encoding: str | None = None) -> SourceProfile:
    """A CSV or Excel file (types inferred from its first ``sample_rows`` rows). A path under
    ``include_dir`` is written relative to it, as the file sources resolve it."""
    from opendata.scaffold.introspect_file import profile_file as run

    return run(Path(path), sample_rows, include_dir=include_dir, sheet=sheet, delimiter=delimiter,
               encoding=encoding)


def profile_http(url: str, records_path: str | None = None, sample_rows: int = DEFAULT_SAMPLE_ROWS, *,
                 conn_id: str | None = None) -> SourceProfile:
    """A JSON API: one bounded GET of ``url``, the records at ``records_path`` (dotted, e.g.
    ``data.items``; None: the body itself, or the one list in it)."""
    from opendata.scaffold.introspect_http import profile_http as run

    return run(url, records_path, sample_rows, conn_id=conn_id)


def column_names(profile: SourceProfile) -> Sequence[str]:
    return [column.name for column in profile.columns]
