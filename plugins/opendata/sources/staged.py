"""A staged extract after the extract task: handed on through XCom, read back one row group
at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from opendata.sources.stage import StagedExtract

# Rows per batch handed to pandas: one batch of 20 text-heavy columns as Python objects costs
# tens of megabytes, so batches stay small whatever the table size.
BATCH_ROWS = 10_000


def staged_from_xcom(value: Mapping[str, Any]) -> StagedExtract:
    """The extract task's XCom (``StagedExtract.as_dict()``: XCom carries JSON) as the object
    again. Keys it does not know are left out (an XCom written by another version of the
    extract task); a missing optional one takes its default."""
    from opendata.sources.stage import StagedExtract

    known = {field.name for field in fields(StagedExtract)}
    return StagedExtract(**{key: item for key, item in value.items() if key in known})


def staged_batches(source: Path | str | pq.ParquetFile, batch_rows: int = BATCH_ROWS,
                   columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The staged file's record batches, read one row group at a time.

    ``iter_batches`` over the whole file holds on to buffers of the row groups already read
    until it finishes (measured: +60 MB per million rows of 20 columns); asked for one row
    group at a time, it releases them and memory stays flat.
    """
    parquet = source if isinstance(source, pq.ParquetFile) else pq.ParquetFile(source)
    for group in range(parquet.num_row_groups):
        yield from parquet.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns)
