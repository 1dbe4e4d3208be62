"""Extract: the first task of every dataset DAG."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opendata.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs


class ExtractDatasetOperator(DatasetOperator):
    """Read the dataset's source in chunks into a staged Parquet file.

    The staged file and its fingerprint are kept in the store (``OPENDATA_STORAGE_URL``): the
    next tasks may run on other workers. On a refresh of a dataset with a ``source.watermark``,
    only rows past the last watermark the portal confirmed are read (an empty increment is fine:
    nothing changed). Returns (as XCom) the staged file's stored location, row count, checksum,
    type-coercion counts, and the watermark it was read from (``StagedExtract.as_dict()``; the
    next tasks read it back as their ``TaskInputs.staged``).
    """

    ui_color = "#e8f0fe"

    def run(self, inputs: TaskInputs, context: Context) -> dict[str, Any]:
        from opendata.lifecycle.plan import RunPath
        from opendata.lifecycle.staging import stage_extract

        plan = self.skip_unless_planned(context)
        spec = inputs.spec
        since = None
        if spec.source.watermark and plan.path is RunPath.REFRESH:
            state = inputs.state
            since = state.last_watermark if state else None
            if since:
                self.log.info("Incremental extract: rows with %s > %s", spec.source.watermark, since)
            else:
                self.log.info("No confirmed watermark yet: full extract")
        staged = stage_extract(spec, context["run_id"], since=since)
        return staged.as_dict()
