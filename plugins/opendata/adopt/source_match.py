"""The source's columns against the portal's, when a source is given to `opendata adopt` (pure).

The adopted file keeps the portal's columns and types (the published dataset is the contract its
users rely on); the source must feed them. Each portal column is matched with the source column
of the same field name (or the same name, ignoring case, spaces and punctuation), and its values
must convert to the portal's type the way the extract converts them. What does not match is
reported, naming the columns, before anything could be sent, and the file says it where the
column is (a ``TODO:`` that keeps the file from running until a person decides).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from opendata.portal.models import ColumnInfo
from opendata.scaffold.profile import ColumnProfile, SourceProfile
from opendata.spec.vocab import SocrataType

_NUMERIC_KINDS = frozenset({"integer", "decimal", "boolean"})
_TIME_KINDS = frozenset({"date", "timestamp"})


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def converts(source: ColumnProfile, portal: SocrataType) -> bool:
    """Whether the source column's values become the portal's type (as the extract types them)."""
    if portal is SocrataType.TEXT or source.socrata_type is portal:
        return True
    if portal is SocrataType.NUMBER:
        return source.kind in _NUMERIC_KINDS or source.socrata_type is SocrataType.NUMBER
    if portal is SocrataType.CHECKBOX:
        return source.kind == "boolean"
    if portal in (SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP):
        return source.kind in _TIME_KINDS or source.socrata_type in (SocrataType.FLOATING_TIMESTAMP,
                                                                     SocrataType.FIXED_TIMESTAMP)
    if portal is SocrataType.URL:
        return source.socrata_type in (SocrataType.TEXT, SocrataType.URL) and source.kind == "text"
    return False


@dataclass(frozen=True)
class ColumnMatch:
    field_name: str
    #: The source column feeding it (None: the source has none).
    source: ColumnProfile | None
    #: The source's values do not convert to the portal's type.
    incompatible: bool = False


@dataclass(frozen=True)
class SourceComparison:
    matches: tuple[ColumnMatch, ...]
    #: Source columns no portal column takes (they stay unpublished, as the extract reports).
    source_only: tuple[str, ...]

    @property
    def missing(self) -> list[str]:
        return [m.field_name for m in self.matches if m.source is None]

    @property
    def incompatible(self) -> list[ColumnMatch]:
        return [m for m in self.matches if m.incompatible]

    @property
    def problems(self) -> bool:
        return bool(self.missing or self.incompatible)

    def report(self, portal_types: dict[str, str]) -> list[str]:
        """One line per kind of difference, naming the columns (empty: they match)."""
        out = []
        if self.missing:
            out.append("on the portal, not in the source: " + ", ".join(
                f"{name} ({portal_types.get(name, '?')})" for name in self.missing))
        for match in self.incompatible:
            assert match.source is not None
            sample = f", e.g. {match.source.samples[0]!r}" if match.source.samples else ""
            out.append(f"{match.field_name} is {portal_types.get(match.field_name, '?')} on the portal but "
                       f"{match.source.name} is {match.source.source_type} ({match.source.kind}{sample}) in the source")
        if self.source_only:
            out.append("in the source, not on the portal (left unpublished): " + ", ".join(self.source_only))
        return out


def compare_source(profile: SourceProfile, portal_columns: Sequence[ColumnInfo],
                   file_types: dict[str, SocrataType]) -> SourceComparison:
    """Match every portal column with a source column. ``file_types``: the file's type of each
    portal column (the portal's own, in the file's vocabulary)."""
    by_field = {c.field_name: c for c in profile.columns}
    by_key: dict[str, ColumnProfile] = {}
    for column in profile.columns:
        by_key.setdefault(_key(column.name), column)
        by_key.setdefault(_key(column.field_name), column)
    used: set[str] = set()
    matches = []
    for portal in portal_columns:
        source = by_field.get(portal.field_name) or by_key.get(_key(portal.field_name))
        if source is None and portal.name:
            source = by_key.get(_key(portal.name))
        if source is not None and source.name in used:
            source = None
        if source is None:
            matches.append(ColumnMatch(portal.field_name, None))
            continue
        used.add(source.name)
        kind = file_types.get(portal.field_name)
        matches.append(ColumnMatch(portal.field_name, source, incompatible=kind is not None and not converts(source,
                                                                                                          kind)))
    source_only = tuple(c.name for c in profile.columns if c.name not in used)
    return SourceComparison(tuple(matches), source_only)
