"""The rows a portal dataset holds, typed and hashed as the extract is, to compare the two.

A dataset taken over from the portal (``opendata adopt``) has no fingerprint of a load the
pipeline made. Its first refresh reads every row the portal holds instead (paged, one page in
memory at a time), types each value to the dataset file's column type exactly as the extract
types it (:func:`opendata.sources.coerce.typed_values`), and hashes both sides the same way, so
an unchanged row compares equal and only new and changed rows are sent, and rows gone from the
source deleted.

SODA's JSON forms (docs/socrata-api.md §2.5 and the recorded ``/resource`` reads): numbers come
back as strings (``"27"``), floating timestamps as ``2024-01-01T00:00:00.000``, fixed ones with
``Z``, checkboxes as ``true``/``false``, points as GeoJSON, URLs as ``{"url", "description"}``,
nulls omitted. Before hashing, both sides are brought to the form the portal stores
(:func:`comparable`): an empty text is null (the portal stores it so), and a point is written
``POINT (x y)`` with the shortest exact numbers, however the source spelt it. The comparison is
only for deciding what to send: what is recorded as confirmed afterwards is the extract's own
fingerprint, so later refreshes compare extract with extract as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opendata.sources.coerce import arrow_schema, typed_values
from opendata.sources.fingerprint import FingerprintWriter, row_fingerprint, row_hashes
from opendata.sources.staged import staged_batches
from opendata.spec.vocab import SocrataType

if TYPE_CHECKING:
    from opendata.portal.hook import SocrataHook
    from opendata.spec.dataset import DatasetSpec

log = logging.getLogger(__name__)

#: Rows typed and hashed at a time (the hook reads the portal in its own page size).
BATCH_ROWS = 10_000


# --- pure: SODA JSON to typed Arrow ----------------------------------------------------------------

def _point_text(value: Any) -> Any:
    """GeoJSON ``{"type": "Point", "coordinates": [x, y]}`` as WKT (how the extract holds points)."""
    if isinstance(value, Mapping):
        coordinates = value.get("coordinates")
        if isinstance(coordinates, (list, tuple)) and len(coordinates) == 2:
            return f"POINT ({coordinates[0]} {coordinates[1]})"
        return None
    return value


def _url_text(value: Any) -> Any:
    """``{"url": ..., "description": ...}`` as its address (how the extract holds URLs)."""
    if isinstance(value, Mapping):
        return value.get("url")
    return value


_JSON_FORMS = {SocrataType.POINT: _point_text, SocrataType.URL: _url_text}


def portal_batch(rows: list[Mapping[str, Any]], spec: DatasetSpec) -> pa.RecordBatch:
    """One page of SODA JSON rows as a batch of the staged extract's schema (a column a row
    leaves out is null there, as SODA omits nulls)."""
    arrays = []
    for column in spec.columns:
        unwrap = _JSON_FORMS.get(column.type)
        values = [row.get(column.field_name) for row in rows]
        if unwrap is not None:
            values = [unwrap(v) for v in values]
        arrays.append(typed_values(column.type, pd.Series(values, dtype=object)))
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(spec))


_WKT_POINT = re.compile(r"^\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$", re.IGNORECASE)


def _canonical_point(text: str | None) -> str | None:
    if text is None:
        return None
    match = _WKT_POINT.match(text)
    if not match:
        return text
    try:
        x, y = float(match.group(1)), float(match.group(2))
    except ValueError:
        return text
    return f"POINT ({x!r} {y!r})"


def comparable(batch: pa.RecordBatch, spec: DatasetSpec) -> pa.RecordBatch:
    """``batch`` in the form the portal stores: empty text as null, points spelt one way."""
    arrays = []
    for column, array in zip(spec.columns, batch.columns, strict=True):
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            blank = pc.equal(array, "")
            array = pc.if_else(blank, pa.scalar(None, array.type), array)
            if column.type is SocrataType.POINT:
                array = pa.array([_canonical_point(v) for v in array.to_pylist()], type=array.type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


# --- I/O: fingerprints of both sides, in files (memory flat) ----------------------------------------

def portal_pages(hook: SocrataHook, portal_id: str, spec: DatasetSpec) -> Iterator[pa.RecordBatch]:
    """Every row the portal holds, a page at a time, typed as the extract is and comparable."""
    select = ",".join(c.field_name for c in spec.columns)
    page: list[Mapping[str, Any]] = []
    for row in hook.iter_rows(portal_id, select=select):
        page.append(row)
        if len(page) >= BATCH_ROWS:
            yield comparable(portal_batch(page, spec), spec)
            page = []
    if page:
        yield comparable(portal_batch(page, spec), spec)


def extract_pages(staged_path: Path, spec: DatasetSpec) -> Iterator[pa.RecordBatch]:
    for batch in staged_batches(staged_path):
        yield comparable(batch, spec)


def write_comparison_fingerprint(batches: Iterable[pa.RecordBatch], row_id: str, path: Path) -> int:
    """The fingerprint of ``batches`` written to ``path`` (Arrow IPC); returns the rows."""
    rows = 0
    writer = FingerprintWriter(path)
    try:
        for batch in batches:
            writer.write(row_fingerprint(batch, row_id))
            rows += batch.num_rows
    finally:
        writer.close()
    return rows


def sorted_row_hashes(batches: Iterable[pa.RecordBatch]) -> np.ndarray:
    """Every row's hash, sorted: the content as a multiset (8 bytes a row), for datasets without
    a row identifier."""
    parts = [row_hashes(batch) for batch in batches]
    hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    hashes.sort()
    return hashes


def same_content(hook: SocrataHook, portal_id: str, spec: DatasetSpec, staged_path: Path) -> tuple[bool, int]:
    """Whether the portal holds exactly the extract's rows (as a multiset), and its row count."""
    portal = sorted_row_hashes(portal_pages(hook, portal_id, spec))
    extract = sorted_row_hashes(extract_pages(staged_path, spec))
    return bool(np.array_equal(portal, extract)), len(portal)
