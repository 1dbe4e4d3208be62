"""Extract: the first task of every dataset DAG."""

from __future__ import annotations

import re
from typing import Any

from airflow.sdk import BaseOperator

from opendata.lifecycle.context import load_spec


def staging_path_for(dataset_id: str, run_id: str):
    from opendata import settings

    safe_run = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return settings.staging_dir() / dataset_id / safe_run / "extract.parquet"


class ExtractDatasetOperator(BaseOperator):
    """Read the dataset's source in chunks into a staged Parquet file.

    Returns (as XCom) the staged file's path, row count, checksum and type-coercion counts.
    """

    ui_color = "#e8f0fe"
    template_fields = ("dataset_id",)

    def __init__(self, *, dataset_id: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.dataset_id = dataset_id

    def execute(self, context) -> dict:
        from opendata.sources.stage import extract_to_stage

        spec = load_spec(self.dataset_id)
        staged = extract_to_stage(spec, staging_path_for(spec.id, context["run_id"]))
        return staged.as_dict()
