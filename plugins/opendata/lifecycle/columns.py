"""The dataset file's columns against the portal dataset's, before anything is written (pure,
and one read).

A refresh sends rows keyed by the file's field names and typed by the file's types. When the
portal's dataset has other columns (a dataset taken over from the portal whose file was written
by hand, a column added to the file after publication, a column changed in the portal's
editor), an upsert would fail half way or write values into the wrong kind of column, and a
different row identifier would append rows instead of updating them. So the refresh compares
first and stops, naming the columns on each side and the fix, having sent nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opendata.spec.vocab import SocrataType

if TYPE_CHECKING:
    from opendata.portal.hook import SocrataHook
    from opendata.portal.models import ColumnInfo
    from opendata.spec.dataset import DatasetSpec

#: The portal's ``dataTypeName`` (view JSON) -> the dataset file's type that publishes into it.
#: ``calendar_date`` and ``date`` are the view JSON's names of floating and fixed timestamps;
#: money, percent and double columns take numbers.
PORTAL_TYPES: dict[str, SocrataType] = {
    "text": SocrataType.TEXT,
    "number": SocrataType.NUMBER,
    "money": SocrataType.NUMBER,
    "percent": SocrataType.NUMBER,
    "double": SocrataType.NUMBER,
    "checkbox": SocrataType.CHECKBOX,
    "calendar_date": SocrataType.FLOATING_TIMESTAMP,
    "floating_timestamp": SocrataType.FLOATING_TIMESTAMP,
    "date": SocrataType.FIXED_TIMESTAMP,
    "fixed_timestamp": SocrataType.FIXED_TIMESTAMP,
    "point": SocrataType.POINT,
    "url": SocrataType.URL,
}


def file_type(portal_type: str | None) -> SocrataType | None:
    """The dataset file's type for a portal column type (None: the pipeline does not publish it)."""
    return PORTAL_TYPES.get((portal_type or "").lower())


@dataclass(frozen=True)
class ColumnMismatch:
    """How the file's columns differ from the portal's (each list names ``field (type)``)."""

    only_in_file: tuple[str, ...] = ()
    only_on_portal: tuple[str, ...] = ()
    #: (field name, the file's type, the portal's type)
    different_types: tuple[tuple[str, str, str], ...] = ()
    #: (the file's row identifier, the portal's), when they differ
    row_identifier: tuple[str | None, str | None] | None = None

    def __bool__(self) -> bool:
        return bool(self.only_in_file or self.only_on_portal or self.different_types or self.row_identifier)

    def lines(self) -> list[str]:
        out = []
        if self.only_in_file:
            out.append(f"in the dataset file only: {', '.join(self.only_in_file)}")
        if self.only_on_portal:
            out.append(f"on the portal only: {', '.join(self.only_on_portal)}")
        for name, mine, theirs in self.different_types:
            out.append(f"{name} is {mine} in the dataset file, {theirs} on the portal")
        if self.row_identifier is not None:
            mine_id, theirs_id = self.row_identifier
            out.append(f"the row identifier is {mine_id or 'none'} in the dataset file, {theirs_id or 'none'} on "
                       f"the portal")
        return out

    def message(self, dataset_id: str, portal_id: str) -> str:
        return (f"{dataset_id}: the dataset file's columns do not match those of portal dataset {portal_id}; "
                f"nothing was sent. " + "; ".join(self.lines()) + ". Fix the file's columns (field_name, type, "
                "publishing.row_identifier) to be the portal's, or change the portal's columns in its editor "
                "to be the file's, then run again")


def compare_columns(file_columns: Iterable[tuple[str, SocrataType]], file_row_id: str | None,
                    portal_columns: Iterable[ColumnInfo], portal_row_id: str | None) -> ColumnMismatch:
    """The differences between the file's ``(field name, type)`` and the portal's columns."""
    mine = dict(file_columns)
    theirs = {c.field_name: c.data_type or "?" for c in portal_columns if not c.field_name.startswith(":")}
    only_mine = tuple(f"{name} ({kind.value})" for name, kind in mine.items() if name not in theirs)
    only_theirs = tuple(f"{name} ({kind})" for name, kind in theirs.items() if name not in mine)
    different = tuple((name, kind.value, theirs[name]) for name, kind in mine.items()
                      if name in theirs and file_type(theirs[name]) is not kind)
    row_id = (file_row_id, portal_row_id) if file_row_id != portal_row_id and (file_row_id or portal_row_id) \
        else None
    return ColumnMismatch(only_mine, only_theirs, different, row_id)


def spec_mismatch(spec: DatasetSpec, portal_columns: Iterable[ColumnInfo], portal_row_id: str | None,
                  ) -> ColumnMismatch:
    """:func:`compare_columns` of a dataset file. A file in replace mode whose portal dataset has
    no row identifier (or the same one) matches on the row identifier."""
    return compare_columns(((c.field_name, c.type) for c in spec.columns), spec.publishing.row_identifier,
                           portal_columns, portal_row_id)


class ColumnMismatchError(RuntimeError):
    """The dataset file's columns are not the portal dataset's: nothing was sent."""


def ensure_columns_match(hook: SocrataHook, spec: DatasetSpec, portal_id: str) -> None:
    """Read the portal dataset's columns (one view read) and raise :class:`ColumnMismatchError`
    naming every difference when they are not the file's."""
    view = hook.get_view(portal_id)
    mismatch = spec_mismatch(spec, view.columns, view.row_identifier_field)
    if mismatch:
        raise ColumnMismatchError(mismatch.message(spec.id, portal_id))
