"""The extract's shape, beyond the per-column rules: rows left out because their fields did not
line up with the header, and text cells too large for the portal.

Ragged rows are found by the extract step while it reads (``sources/ragged.py``: the staged file
never holds them) and reported here from its count and line numbers. Cell sizes are measured on
the staged file, so every kind of source (database, file, API) is held to the same limit, after
masking, on exactly the values that would be sent. Results carry counts, sizes, line numbers and
row identifiers: never a cell's content.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opendata.spec.dataset import DatasetSpec, FileSource, HttpSource
from opendata.spec.vocab import SocrataType
from opendata.validation.findings import MAX_SAMPLES, Area, CheckResult, SampleRows, result

# The staged types whose cells are text the portal stores as given.
TEXT_TYPES = {SocrataType.TEXT, SocrataType.URL, SocrataType.POINT}


def reads_rows_by_position(spec: DatasetSpec) -> bool:
    """A CSV file, an Excel sheet or a CSV endpoint: its cells are placed by position, so a row
    can have too few or too many. A database's rows and a JSON API's records cannot."""
    source = spec.source
    return isinstance(source, FileSource) or (isinstance(source, HttpSource) and source.format == "csv")


def ragged_result(spec: DatasetSpec, ragged: dict | None, rows: int) -> CheckResult | None:
    """Rows left out of the extract for not having the header's fields (None for sources whose
    rows cannot be ragged). ``ragged`` is ``StagedExtract.ragged_rows``. A schema finding, like the
    values that did not fit their type: both are found while the source is read."""
    if not reads_rows_by_position(spec):
        return None
    rule = spec.quality.table.ragged_rows
    if ragged is None:
        # Staged by a version that did not look: its rows may have been padded. Extract again.
        return result(Area.SCHEMA, "ragged_rows", None, rule.severity, 1, None,
                      "every row has the header's fields", passed=False,
                      note="the extract did not count ragged rows (staged by an older version); extract again")
    count = int(ragged.get("count", 0))
    expected = ragged.get("expected")
    words = f"the header's {expected} fields" if expected else "the header's fields"
    return result(Area.SCHEMA, "ragged_rows", None, rule.severity, count, rows + count,
                  f"every row has {words}; rows that do not are left out of the extract",
                  samples=tuple(ragged.get("samples", [])),
                  note=f"{count:,} source row(s) not staged: fix the source file" if count else None)


class CellSizeTally:
    """Text cells over the dataset's ``quality.table.cell_size`` limit, per column, over the batches."""

    def __init__(self, spec: DatasetSpec):
        rule = spec.quality.table.cell_size
        self.limit, self.severity = rule.max_bytes, rule.severity
        self.columns = [c.field_name for c in spec.columns if c.type in TEXT_TYPES]
        self.counts = dict.fromkeys(self.columns, 0)
        self.largest = dict.fromkeys(self.columns, 0)
        self.samples = {name: SampleRows() for name in self.columns}

    def add(self, batch: pa.RecordBatch, row_ids: pd.Series) -> None:
        """One staged batch; ``row_ids`` is indexed by the rows' positions in the extract."""
        for name in self.columns:
            # Bytes as sent (UTF-8), counted by Arrow without making Python strings of the cells.
            sizes = pc.binary_length(batch.column(batch.schema.get_field_index(name)))
            over = pc.fill_null(pc.greater(sizes, self.limit), False)
            found = pc.sum(over).as_py() or 0
            if not found:
                continue
            self.counts[name] += found
            self.largest[name] = max(self.largest[name], pc.max(sizes).as_py())
            first = pc.indices_nonzero(over).to_pylist()[:MAX_SAMPLES]
            ids = row_ids.iloc[first]
            self.samples[name].add([int(p) for p in ids.index], [None if pd.isna(v) else str(v) for v in ids])

    def results(self, rows: int, reveal_ids: bool) -> list[CheckResult]:
        return [result(Area.QUALITY, "cell_size", name, self.severity, self.counts[name], rows,
                       f"at most {self.limit:,} bytes per cell (the portal takes about 4 kB)",
                       samples=self.samples[name].shown(reveal_ids),
                       note=f"largest {self.largest[name]:,} bytes" if self.counts[name] else None)
                for name in self.columns]
