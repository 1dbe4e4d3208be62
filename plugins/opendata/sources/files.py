"""CSV and Excel files, read in chunks.

Every cell is read as text: the data dictionary, not pandas' per-chunk guessing, decides
types, so chunk 1 and chunk 40 of the same file always agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import pandas as pd

from opendata.sources.base import ExtractError
from opendata.sources.csv_reader import csv_chunks, text_encoding
from opendata.sources.ragged import RaggedRows
from opendata.spec.dataset import FileSource
from opendata.spec.paths import UnsafePath, resolve_include_path


def read_file_chunks(source: FileSource, ragged: RaggedRows | None = None) -> Iterator[pd.DataFrame]:
    """Chunks of the file; rows with the wrong number of fields are left out and counted in ``ragged``."""
    ragged = ragged if ragged is not None else RaggedRows()
    try:  # confined to the include folder and the data roots; nothing is expanded
        path = resolve_include_path(source.path)
    except UnsafePath as exc:
        raise ExtractError(f"source.path {exc}") from None
    if not path.is_file():
        raise ExtractError(f"source file not found: {path}")
    if source.resolved_format == "excel":
        yield from _excel_chunks(source, path, ragged)
        return
    with path.open(encoding=text_encoding(source.encoding), newline="") as lines:
        yield from csv_chunks(lines, origin=str(path), chunk_size=source.chunk_size, ragged=ragged,
                              delimiter=source.delimiter)


def _excel_chunks(source: FileSource, path, ragged: RaggedRows) -> Iterator[pd.DataFrame]:
    from openpyxl import load_workbook

    try:
        # read_only streams rows from the file instead of building the whole workbook.
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ExtractError(f"cannot open {path} as an Excel workbook: {exc}") from exc
    try:
        if source.sheet is None:
            sheet = book.worksheets[0]
        elif isinstance(source.sheet, int):
            sheet = book.worksheets[source.sheet]
        elif source.sheet in book.sheetnames:
            sheet = book[source.sheet]
        else:
            raise ExtractError(f"{path} has no sheet {source.sheet!r}; sheets: {', '.join(book.sheetnames)}")
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        # The header ends at its last named cell: the sheet's used range may run further right.
        width = max((i + 1 for i, h in enumerate(header) if h is not None), default=0)
        names = [str(h) if h is not None else f"column_{i}" for i, h in enumerate(header[:width])]
        number = 1  # iter_rows() starts at the sheet's first row (the header), empty rows included
        while chunk := list(islice(rows, source.chunk_size)):
            batch = []
            for row in chunk:
                number += 1
                stray = [i for i, value in enumerate(row[width:], start=width) if value is not None]
                if stray:
                    # A value right of the header: a row pasted one column off, or a column without a
                    # name. Its cells cannot be trusted to be under the right headers: left out.
                    ragged.add(f"sheet row {number}", stray[-1] + 1, width, unit="columns")
                    continue
                if any(value is not None for value in row):  # an empty row is skipped, as a blank CSV line is
                    batch.append(tuple(row[:width]) + (None,) * (width - len(row)))
            if batch:
                yield pd.DataFrame(batch, columns=names, dtype=object)
    finally:
        book.close()
