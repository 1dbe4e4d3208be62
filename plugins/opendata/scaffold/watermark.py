"""Which column a SQL source's refreshes read from (``source.watermark``), suggested (pure).

With a watermark a refresh asks the database only for rows past the last confirmed value
(opendata.sources.sql pushes ``WHERE <column> > :since`` down; opendata.sources.watermark), so a
large table costs the rows that changed, not all of them. The column must only grow when a row
changes: an updated-at timestamp says so by its name and type; an increasing integer key finds
new rows only (an edited row keeps its id), so it is second choice. The lint rule is that the
watermark is a number or timestamp column of the dictionary (opendata.spec.file_checks).

Files and APIs are read whole on every run anyway (the filter would apply after reading), and a
whole read is also what finds rows deleted at the source, so no watermark is suggested for them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from opendata.scaffold.profile import ColumnProfile, SourceProfile
from opendata.spec.vocab import SocrataType

_UPDATED = re.compile(
    r"^(?:(?:last_)?(?:updated|modified|changed|edited|mod|upd)(?:_(?:at|on|date|time|datetime|dt|ts|timestamp))?|"
    r"(?:last_)?(?:update|modify|modification|change|edit)_(?:date|time|datetime|dt|ts|timestamp)|"
    r"(?:date|time|datetime|dt|ts|timestamp)_(?:last_)?(?:updated|modified|changed)|"
    r"last_(?:update|modification|change)|lastmod|last_modified_(?:date|time|at|on)|"
    r"(?:row|record|etl|sys)_(?:updated|modified|changed)(?:_(?:at|on|date|time|ts))?)$")
_INCREASING_ID = re.compile(r"^(?:id|[a-z0-9_]*_id|[a-z0-9_]*_seq|seq|serial)$")
_TIMESTAMPS = {SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP}


@dataclass(frozen=True)
class Watermark:
    field_name: str
    reason: str


def suggest_watermark(profile: SourceProfile, published: Collection[str]) -> Watermark | None:
    """For a SQL source: an updated-at timestamp column, else an integer primary key named like
    an id. ``published``: the field names that stay in the data dictionary."""
    if profile.source.get("kind") != "sql":
        return None
    columns = [c for c in profile.columns if c.field_name in published]
    for column in columns:
        if column.socrata_type in _TIMESTAMPS and _UPDATED.match(column.field_name):
            return Watermark(column.field_name, _reason_updated(column, profile.row_count_sampled))
    for column in columns:
        if (column.is_primary_key and len(profile.primary_key) == 1 and column.kind == "integer"
                and column.socrata_type is SocrataType.NUMBER and _INCREASING_ID.match(column.field_name)):
            return Watermark(column.field_name,
                             f"{column.name}, the table's integer key, if it only grows: refreshes then read only rows "
                             f"with a higher {column.name}. It finds new rows only (an edited row keeps its id, so "
                             f"its change is not sent); prefer an updated-at column if the table has one. Rows "
                             f"deleted at the source are not deleted on the portal by such refreshes")
    return None


def updated_at_without_watermark(profile: SourceProfile, published: Collection[str]) -> str | None:
    """For a file or API with an updated-at column: why it is not the watermark (a comment)."""
    if profile.source.get("kind") == "sql":
        return None
    for column in profile.columns:
        if column.field_name in published and column.socrata_type in _TIMESTAMPS and _UPDATED.match(column.field_name):
            return (f"no source.watermark: {column.name} looks like an updated-at column, but a "
                    f"{profile.source.get('kind')} source is read whole on every run anyway, and a whole read also "
                    f"finds rows deleted at the source")
    return None


def _reason_updated(column: ColumnProfile, sampled: int) -> str:
    text = (f"{column.name} looks like an updated-at column ({column.source_type}): refreshes read only rows changed "
            f"since the last confirmed value, and the database filters them. Rows deleted at the source are not "
            f"deleted on the portal by such refreshes; leave the watermark out if they must be")
    if column.null_count:
        text += (f". {column.null_count:,} of {sampled:,} sampled rows have no {column.name}: such rows are never "
                 f"read by a refresh; fill it at the source, or remove the watermark")
    return text
