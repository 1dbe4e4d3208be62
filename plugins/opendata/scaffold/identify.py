"""Which column identifies a row (``publishing.row_identifier``), suggested from a profile (pure).

With a row identifier each refresh sends only new and changed rows (upsert); without one the
dataset is replaced whole every time. A database says which column it is (a one-column primary
key); a file or an API does not, so a column is suggested when its name reads as an identifier
and every sampled value is present and different: a sample cannot prove uniqueness, so the draft
says it was inferred and asks to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opendata.scaffold.profile import ColumnProfile, SourceProfile
from opendata.spec.vocab import SocrataType

# Names that read as an identifier: id, permit_id, sr_number, case_no, inspection_key, permit_nbr ...
_ID_NAME = re.compile(r"(?:^|_)(?:id|uuid|guid|key|number|nbr|num|no)$")
_STRONG_ID_NAME = re.compile(r"(?:^|_)(?:id|uuid|guid)$")
_IDENTIFIER_TYPES = {SocrataType.TEXT, SocrataType.NUMBER}


@dataclass(frozen=True)
class RowIdentifier:
    field_name: str
    # Why, for the draft's comment.
    reason: str
    # True when it comes from a sample (check it), False when the source declares it.
    inferred: bool


def suggest_row_identifier(profile: SourceProfile) -> RowIdentifier | None:
    if profile.primary_key:
        if len(profile.primary_key) == 1:
            column = profile.column(profile.primary_key[0])
            return RowIdentifier(column.field_name, f"the table's primary key ({column.name})", False)
        return None  # several columns: see composite_key_note
    candidates = [c for c in profile.columns if _looks_like_id(c) and c.sampled_unique]
    if not candidates or profile.row_count_sampled < 2:
        return None
    # An "id" name first ("inspection_id" before "permit_number"), then the leftmost.
    best = sorted(candidates, key=lambda c: (not _STRONG_ID_NAME.search(c.field_name),
                                             profile.columns.index(c)))[0]
    return RowIdentifier(best.field_name, f"inferred from a sample: all {profile.row_count_sampled:,} sampled values "
                                          f"of {best.name} are present and different; check it is unique in the "
                                          f"whole source", True)


def composite_key_note(profile: SourceProfile) -> str | None:
    if len(profile.primary_key) < 2:
        return None
    return (f"the primary key has {len(profile.primary_key)} columns ({', '.join(profile.primary_key)}) and a "
            f"dataset is identified by one: publish a combined key column from the query to refresh row by row; "
            f"without one each refresh replaces the dataset")


def _looks_like_id(column: ColumnProfile) -> bool:
    return column.socrata_type in _IDENTIFIER_TYPES and bool(_ID_NAME.search(column.field_name))
