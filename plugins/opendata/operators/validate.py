"""Validate: the quality, privacy and documentation gates every extract passes before it
leaves the department."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from opendata.operators.base import DatasetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.lifecycle.inputs import TaskInputs


class ValidateDatasetOperator(DatasetOperator):
    """Run the dataset file's checks over the staged extract and write the checklist report.

    Fails the run (nothing reaches the portal) when any error-severity check fails; warnings
    are reported only. Returns the result summary for the next tasks and notifications.
    """

    ui_color = "#e6f4ea"

    def run(self, inputs: TaskInputs, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from opendata import storage
        from opendata.lifecycle.plan import RunPath
        from opendata.lifecycle.staging import keep_reports, local_staged, report_work_folder
        from opendata.validation import validate_staged
        from opendata.validation.report import WARNINGS_SHOWN, warnings_digest

        plan = self.skip_unless_planned(context)
        run_id = context["run_id"]
        spec, staged, registry, state = inputs.spec, inputs.staged, inputs.registry, inputs.state
        result = validate_staged(
            spec, staged,
            previous_rows=state.published_rows if state else None,
            first_publication=plan.path is not RunPath.REFRESH,
            report_dir=report_work_folder(self.dataset_id, run_id),
            incremental=staged.since is not None,
            read_from=local_staged(staged, with_fingerprint=False),
        )
        # Kept in the store: the CDO's e-mail (a later task, maybe on another worker) and the Open
        # Data view (the API server) read the report from there.
        markdown, page = (storage.recorded(kept) for kept in
                          keep_reports(self.dataset_id, run_id, [result.report_markdown, result.report_html]))
        self.log.info("Validation: %s", result.summary)
        # The whole report in the log: the task's page in the Airflow UI (linked from the Step 1
        # form and the CDO's e-mail) shows it to people who cannot open the store.
        self.log.info("Data Submission Checklist report (kept at %s and %s):\n%s", markdown, page,
                      _read(result.report_markdown))
        registry.update_run(self.dataset_id, context["run_id"], rows_extracted=staged.rows,
                            rows_validated=staged.rows if result.passed else None, checksum=staged.checksum)
        if not result.passed:
            raise AirflowFailException(f"{self.dataset_id} did not pass validation: {result.summary}. "
                                       f"See the report: {markdown}")
        everything = result.as_dict()
        # XCom stays small whatever the dataset: the first findings and warnings, with totals.
        return {**everything, "findings": everything["findings"][:WARNINGS_SHOWN],
                "findings_total": len(everything["findings"]), **warnings_digest(result.results),
                "summary": result.summary, "report_markdown": markdown, "report_html": page}


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return f"(could not read it: {exc})"
