"""CSV text read record by record into chunks, every record checked against the header.

pandas' reader pads a short row with empty cells without a word, so files and HTTP CSV sources
are read with the csv module instead: each record's field count is compared with the header's,
and a record that differs is left out and counted with its line number (``ragged.py``).
Memory stays bounded by one chunk, as before. Every cell is text; an empty cell is missing.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from itertools import islice

import pandas as pd

from opendata.sources.base import ExtractError
from opendata.sources.ragged import RaggedRows

# The largest cell read, in characters. Python's csv module stops at 128 KiB by default, far
# below a cell someone pasted a document into; such a cell must be read to become a finding
# (cells are checked against the dataset's much smaller limit in validation). Beyond this,
# memory rather than a finding is at stake, and the extract stops, naming the line.
MAX_FIELD_CHARS = 32 * 1024 * 1024


def text_encoding(encoding: str) -> str:
    """utf-8 read as utf-8-sig: a byte-order mark must not become part of the first column's name."""
    try:
        return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    except LookupError as exc:
        raise ExtractError(f"unknown text encoding {encoding!r}") from exc


def csv_chunks(lines: Iterable[str], *, origin: str, chunk_size: int, ragged: RaggedRows,
               delimiter: str = ",") -> Iterator[pd.DataFrame]:
    """DataFrames of up to ``chunk_size`` records (text, an empty cell missing), header names as columns.

    ``lines`` is text opened with ``newline=""``; ``origin`` names it in errors. Records whose
    field count is not the header's go to ``ragged``, never into a chunk. Blank lines are skipped.
    """
    # Process-wide, and only ever raised: no other reader in the process is given a lower limit.
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader, None)
        while header == []:
            header = next(reader, None)
        if header is None:
            return
        names = _column_names(header, origin, reader.line_num)
        width = len(names)
        last_line = reader.line_num
        # Records are taken a chunk at a time (the csv module's own loop, no Python per record);
        # only a chunk holding a record of another width is walked record by record.
        while records := list(islice(reader, chunk_size)):
            first_line, last_line = last_line + 1, reader.line_num
            if set(map(len, records)) != {width}:
                records = _aligned(records, width, first_line, last_line, ragged)
            if records:
                frame = pd.DataFrame(records, columns=names, dtype="str")
                yield frame.mask(frame == "")
    except csv.Error as exc:
        raise ExtractError(f"cannot parse {origin} as CSV at line {reader.line_num}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ExtractError(f"cannot parse {origin} as CSV after line {reader.line_num}: {exc.reason} "
                           f"({exc.encoding})") from exc


def _aligned(records: list[list[str]], width: int, first_line: int, last_line: int,
             ragged: RaggedRows) -> list[list[str]]:
    """The records of the header's width; the others counted in ``ragged`` with their first line."""
    kept: list[list[str]] = []
    found: list[tuple[int | str, int]] = []  # (line, or the span of lines when unsure; fields)
    line = first_line
    for record in records:
        if len(record) == width:
            kept.append(record)
        elif record:  # [] is a blank line
            found.append((line, len(record)))
        # A quoted cell may hold line breaks: the next record starts after them.
        line += 1 + sum(_line_breaks(value) for value in record)
    if line - 1 != last_line:
        # The reader counted lines otherwise (an unusual line break): name the span, not a wrong line.
        found = [(f"{first_line}-{last_line}", fields) for _, fields in found]
    for where, fields in found:
        ragged.add(f"line {where}", fields, width)
    return kept


def _line_breaks(value: str) -> int:
    if "\n" not in value and "\r" not in value:
        return 0
    return value.count("\n") + value.count("\r") - value.count("\r\n")


def _column_names(header: list[str], origin: str, line: int) -> list[str]:
    # An empty header cell gets pandas' placeholder name, so it can be listed (and not published).
    names = [name if name != "" else f"Unnamed: {i}" for i, name in enumerate(header)]
    seen: set[str] = set()
    twice = []
    for name in names:
        if name in seen:
            twice.append(name)
        seen.add(name)
    if twice:
        # Which of the two is the dictionary's column cannot be known: refuse rather than guess.
        raise ExtractError(f"the header of {origin} (line {line}) names a column twice: {', '.join(twice)}")
    return names
