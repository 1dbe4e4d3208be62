"""CSV and Excel files, read in chunks.

Every cell is read as text: the data dictionary, not pandas' per-chunk guessing, decides
types, so chunk 1 and chunk 40 of the same file always agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import pandas as pd

from opendata import settings
from opendata.sources.base import ExtractError
from opendata.spec.dataset import FileSource
from opendata.spec.paths import UnsafePath


def read_file_chunks(source: FileSource) -> Iterator[pd.DataFrame]:
    try:  # confined to the include folder and the data roots; nothing is expanded
        path = settings.resolve_include_path(source.path)
    except UnsafePath as exc:
        raise ExtractError(f"source.path {exc}") from None
    if not path.is_file():
        raise ExtractError(f"source file not found: {path}")
    if source.resolved_format == "excel":
        yield from _excel_chunks(source, path)
        return
    try:
        reader = pd.read_csv(path, sep=source.delimiter, encoding=source.encoding, dtype=str,
                             chunksize=source.chunk_size, keep_default_na=False, na_values=[""])
        with reader:
            yield from reader
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ExtractError(f"cannot parse {path} as CSV: {str(exc).splitlines()[0]}") from exc


def _excel_chunks(source: FileSource, path) -> Iterator[pd.DataFrame]:
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
        names = [str(h) if h is not None else f"column_{i}" for i, h in enumerate(header)]
        while batch := list(islice(rows, source.chunk_size)):
            yield pd.DataFrame(batch, columns=names, dtype=object)
    finally:
        book.close()
