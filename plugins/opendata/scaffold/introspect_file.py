"""Introspecting a CSV or Excel file (thin I/O): the first ``sample_rows`` rows, read the way the
file source reads them (opendata.sources.csv_reader and openpyxl's streaming mode), so the
types guessed are the ones the pipeline will convert.

The path written in the draft is the one the pipeline will accept (opendata.spec.paths): relative
to the include folder, or absolute inside a data root the deployment names; a file anywhere
else is refused here, not at the first run.
"""

from __future__ import annotations

import codecs
import csv
import os
from itertools import islice
from pathlib import Path
from typing import Any

from opendata import settings
from opendata.scaffold.columns import profile_columns
from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.names import title
from opendata.scaffold.profile import SourceProfile
from opendata.scaffold.typemap import guess_values
from opendata.spec.paths import is_within, path_problem

_EXCEL = (".xlsx", ".xlsm")
# Encodings tried in turn when none is given: UTF-8, then Windows' Western European (what
# spreadsheet exports on city desktops mostly are), then Latin-1, which reads any byte.
_ENCODINGS = ("utf-8", "cp1252", "latin-1")
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024


def profile_file(path: Path, sample_rows: int, *, include_dir: Path | None = None, sheet: str | int | None = None,
                 delimiter: str | None = None, encoding: str | None = None) -> SourceProfile:
    include = include_dir or settings.include_dir()
    real, written = _located(path, include)
    source: dict[str, Any] = {"kind": "file", "path": written}
    if real.suffix.lower() == ".xls":
        raise ScaffoldError(f"{path}: the old Excel format (.xls) is not read by the pipeline; save it as .xlsx")
    if real.suffix.lower() in _EXCEL:
        names, rows, notes = _excel(real, sample_rows, sheet)
        if sheet is not None:
            source["sheet"] = sheet
        kind = "Excel"
    else:
        names, rows, notes, used_encoding, used_delimiter = _csv(real, sample_rows, encoding, delimiter)
        if used_encoding != "utf-8":
            source["encoding"] = used_encoding
        if used_delimiter != ",":
            source["delimiter"] = used_delimiter
        kind = "CSV"
    columns = profile_columns(names, rows, guess=lambda field, values, i: guess_values(field, values))
    return SourceProfile(columns=columns, row_count_sampled=len(rows), primary_key=(), source=source,
                         source_system=f"{kind} file {real.name}", title=title(real.stem),
                         notes=(f"types inferred from the first {len(rows)} rows of the file", *notes))


def _located(path: Path, include: Path) -> tuple[Path, str]:
    """The file's real path, and the path a dataset file names it by."""
    try:
        real = Path(os.path.realpath(path))
    except (OSError, ValueError) as exc:
        raise ScaffoldError(f"{path}: cannot be resolved ({type(exc).__name__})") from None
    if not real.exists():
        raise ScaffoldError(f"{path}: no such file")
    if not real.is_file():
        raise ScaffoldError(f"{path}: not a regular file (a folder, pipe or device cannot be a source)")
    if not os.access(real, os.R_OK):
        raise ScaffoldError(f"{path}: cannot read the file (permission denied)")
    include_real = Path(os.path.realpath(include))
    if is_within(real, include_real):
        written = real.relative_to(include_real).as_posix()
    elif any(is_within(real, Path(os.path.realpath(root))) for root in settings.data_roots()):
        written = str(real)
    else:
        roots = ", ".join(str(r) for r in settings.data_roots()) or "none named"
        raise ScaffoldError(f"{path} is outside the include folder ({include}) and the data roots "
                            f"(OPENDATA_DATA_ROOTS: {roots}); the pipeline reads source files only there: "
                            f"put the file (or its export's destination) in one of them")
    problem = path_problem(written)
    if problem is not None:
        raise ScaffoldError(f"{path}: the path {problem} (rename the file)")
    return real, written


def _csv(path: Path, sample_rows: int, encoding: str | None,
         delimiter: str | None) -> tuple[list[str], list[tuple[Any, ...]], tuple[str, ...], str, str]:
    from opendata.sources.csv_reader import csv_chunks, text_encoding
    from opendata.sources.ragged import RaggedRows

    try:
        head = path.open("rb").read(_SNIFF_BYTES)
    except OSError as exc:
        raise ScaffoldError(f"{path}: cannot read the file ({exc.strerror})") from None
    used_encoding = encoding or _encoding_of(head)
    text_head = head.decode(used_encoding, errors="ignore")
    used_delimiter = delimiter or _delimiter_of(text_head)
    ragged = RaggedRows()
    try:
        with path.open(encoding=text_encoding(used_encoding), newline="") as lines:
            chunk = next(iter(csv_chunks(lines, origin=str(path), chunk_size=sample_rows, ragged=ragged,
                                         delimiter=used_delimiter)), None)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ScaffoldError(f"{path}: cannot be read as {used_encoding} text ({type(exc).__name__})") from None
    except (OSError, csv.Error, ValueError) as exc:
        raise ScaffoldError(f"{path}: cannot be read as CSV ({str(exc)[:200]})") from None
    if chunk is None or len(chunk.columns) == 0:
        raise ScaffoldError(f"{path}: no header row with column names (an empty file?)")
    names = [str(c) for c in chunk.columns]
    rows = [tuple(None if _missing(v) else v for v in row) for row in chunk.itertuples(index=False, name=None)]
    notes: list[str] = []
    if used_encoding != "utf-8":
        notes.append(f"the file is not UTF-8: read as {used_encoding} (source.encoding)")
    if ragged.count:
        notes.append(f"{ragged}: the pipeline leaves such rows out")
    return names, rows, tuple(notes), used_encoding, used_delimiter


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _encoding_of(head: bytes) -> str:
    for encoding in _ENCODINGS:
        try:
            # Not final: a character cut at the end of the sniffed bytes is not an error.
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _delimiter_of(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text.split("\n", 20)[0] if text else ",", delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _excel(path: Path, sample_rows: int,
           sheet: str | int | None) -> tuple[list[str], list[tuple[Any, ...]], tuple[str, ...]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
        raise ScaffoldError(f"{path}: cannot be opened as an Excel workbook ({type(exc).__name__})") from None
    try:
        if sheet is None:
            chosen = book.worksheets[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(book.worksheets):
                raise ScaffoldError(f"{path} has {len(book.worksheets)} sheet(s); sheet {sheet} does not exist")
            chosen = book.worksheets[sheet]
        elif sheet in book.sheetnames:
            chosen = book[sheet]
        else:
            raise ScaffoldError(f"{path} has no sheet {sheet!r}; sheets: {', '.join(book.sheetnames)}")
        rows_iter = chosen.iter_rows(values_only=True)
        header = next(rows_iter, None)
        if header is None or all(h is None for h in header):
            raise ScaffoldError(f"{path}: the sheet {chosen.title!r} has no header row with column names")
        width = max(i + 1 for i, h in enumerate(header) if h is not None)
        names = [str(h) if h is not None else f"column_{i}" for i, h in enumerate(header[:width])]
        rows = [tuple(row[:width]) + (None,) * (width - len(row))
                for row in islice(rows_iter, sample_rows) if any(v is not None for v in row)]
        notes = (f"sheet {chosen.title!r} of {len(book.sheetnames)}",) if len(book.sheetnames) > 1 else ()
        return names, rows, notes
    finally:
        book.close()
