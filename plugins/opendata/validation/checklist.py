"""The Data Submission Checklist of a dataset file, rendered as Markdown.

The whole checklist (every answer and the data dictionary) is shown in the Step 1 approval form
and in the checklist report of each run, so the department's leadership approves what was
promised. The DAG's documentation carries a short summary that says where the checklist is: the
documentation is stored in every serialized DAG and sent to the scheduler and the UI on each
parse, and 5,000 copies of the full checklist made it most of the serialized data.
"""

from __future__ import annotations

from opendata.spec.dataset import DatasetSpec
from opendata.spec.markdown import md_paragraphs, md_text
from opendata.spec.vocab import LICENSES


def _cell(value: object) -> str:
    # Every answer is the department's text: literal in the table, whatever characters it holds.
    return md_text(value) if value not in (None, "") else "—"


def _with_details(value: str, details: str | None) -> str:
    return f"{value} — {details}" if details else value


def checklist_rows(spec: DatasetSpec) -> list[tuple[str, str]]:
    coverage = spec.coverage
    existing = spec.existing_publication
    classification = spec.classification
    return [
        ("Department/Division", spec.department),
        ("Dataset name", spec.name),
        ("Brief description", spec.description),
        ("Data Steward", f"{spec.steward.name} <{spec.steward.email}>"),
        ("Open Data Coordinator", spec.coordinator),
        ("Data source", spec.source_system),
        ("Start date", coverage.start_date.isoformat()),
        ("End date", coverage.end_date if isinstance(coverage.end_date, str) else coverage.end_date.isoformat()),
        ("Geographic coverage", coverage.geographic_coverage),
        ("Geographic granularity", coverage.geographic_granularity),
        ("Update frequency", spec.update_frequency.value),
        ("Collection frequency", spec.collection_frequency.value),
        ("Existing publication", f"Y ({existing.link})" if existing.published else "N"),
        ("Priority/value", _with_details(spec.priority.level.value, spec.priority.comments)),
        ("Technical challenges", spec.technical_challenges or ""),
        ("Data classification", _with_details(
            f"{classification.category.value.upper()}, level {classification.level}", classification.details)),
        ("Data quality", _with_details(spec.data_quality.rating.value, spec.data_quality.details)),
        ("Portal category", spec.publishing.category),
        ("Tags", ", ".join(spec.publishing.tags)),
        ("License", LICENSES[spec.publishing.license]),
        ("Attribution", spec.publishing.attribution),
        ("Contact", f"{spec.publishing.contact.name} <{spec.publishing.contact.email}>"),
        ("Row identifier", spec.publishing.row_identifier or "(none: refreshes replace the dataset)"),
        ("Source", f"{spec.source.kind}"),
    ]


def checklist_markdown(spec: DatasetSpec) -> str:
    """The checklist as Markdown. The dataset file's text (name, description, answers, column
    names and descriptions) is escaped: shown as written, it can add no HTML, link, heading or
    table row to the page (the DAG's documentation and the Step 1 form render this)."""
    lines = [f"## {md_text(spec.name)}", "", md_paragraphs(spec.description), "", "### Data Submission Checklist",
             "", "| Field | Answer |", "|---|---|"]
    lines += [f"| {label} | {_cell(value)} |" for label, value in checklist_rows(spec)]
    lines += ["", "### Data dictionary", "", "| Field name | Display name | Type | Description |", "|---|---|---|---|"]
    # field_name is a validated API name ([a-z][a-z0-9_]*), safe inside a code span.
    lines += [f"| `{c.field_name}` | {_cell(c.display_name)} | {c.type.value} | {_cell(c.description)} |"
              for c in spec.columns]
    return "\n".join(lines) + "\n"


def checklist_summary_markdown(spec: DatasetSpec, path: str) -> str:
    """The DAG's documentation: the dataset in a few lines and where its full checklist is
    (``path``: the dataset file under the include folder). Escaped as :func:`checklist_markdown` is."""
    steward = spec.steward
    lines = [
        f"## {md_text(spec.name)}", "",
        f"**{md_text(spec.department)}**, steward {md_text(steward.name)}; updates "
        f"{spec.update_frequency.value}; {spec.classification.category.value} data, level "
        f"{spec.classification.level}; {len(spec.columns)} column(s).", "",
        "### Data Submission Checklist", "",
        # The file name is checked (department folder, dataset id): it needs no escaping but the
        # code span keeps it literal anyway.
        f"The full checklist (every answer and the data dictionary) is in the dataset file "
        f"`{path.replace('`', '')}`, in the Step 1 approval form (task `department_approval`) and "
        f"in the checklist report that each run's `validate` task writes (attached to the Chief Data "
        f"Officer's Stage 1 e-mail). `opendata lint` checks the file.",
    ]
    return "\n".join(lines) + "\n"
