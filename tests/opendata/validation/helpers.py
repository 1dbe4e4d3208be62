"""Small datasets for validation tests: a spec built in code, staged through the real extract
step (a CSV file source, so typing, removal and masking all run), validated at a fixed time."""

from __future__ import annotations

import csv
import datetime as dt
import functools
from pathlib import Path

from opendata.sources.stage import StagedExtract, extract_to_stage
from opendata.spec.dataset import DatasetSpec
from opendata.spec.loader import load_catalog
from opendata.validation import ValidationResult, validate_staged

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


@functools.cache
def _base() -> dict:
    return load_catalog().get("service-requests-311").spec.model_dump(mode="json")


def make_spec(columns: dict[str, str], *, row_identifier: str | None = "id", quality: dict | None = None,
              privacy: dict | None = None, **changes) -> DatasetSpec:
    """A dataset file with the given columns (name -> type) and sections; the rest from the 311 sample."""
    data = _base() | {"glossary": {}}
    data["columns"] = [{"field_name": name, "display_name": name.replace("_", " ").title(), "type": kind,
                        "description": f"The {name.replace('_', ' ')} of the record, as the source keeps it."}
                       for name, kind in columns.items()]
    data["publishing"] = data["publishing"] | {"row_identifier": row_identifier}
    data["quality"] = quality or {}
    data["privacy"] = privacy or {}
    data["source"] = {"kind": "file", "path": "set-by-stage.csv", "chunk_size": 100}
    for key, value in changes.items():
        data[key] = value
    return DatasetSpec.model_validate(data)


def stage(spec: DatasetSpec, rows: list[dict], tmp_path: Path, chunk_size: int = 100) -> StagedExtract:
    """Write ``rows`` as the source CSV and extract it as the pipeline does."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "source.csv"
    names = list(dict.fromkeys(name for row in rows for name in row))
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if row.get(k) is None else row.get(k) for k in names} for row in rows)
    data = spec.model_dump(mode="json")
    data["source"] = {"kind": "file", "path": str(source), "chunk_size": chunk_size}
    return extract_to_stage(DatasetSpec.model_validate(data), tmp_path / "extract.parquet")


def validate(spec: DatasetSpec, staged: StagedExtract | dict, tmp_path: Path, *, previous_rows: int | None = None,
             first_publication: bool = False, batch_rows: int = 100) -> ValidationResult:
    return validate_staged(spec, staged, previous_rows=previous_rows, first_publication=first_publication,
                           report_dir=tmp_path / "report", now=NOW, batch_rows=batch_rows)


def by_label(result: ValidationResult) -> dict[str, object]:
    """``{"range(valuation)": CheckResult, ...}``."""
    return {r.label: r for r in result.results}
