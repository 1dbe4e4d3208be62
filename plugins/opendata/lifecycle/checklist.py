"""The Data Submission Checklist of a dataset file, rendered as Markdown.

Shown as the DAG's documentation in the Airflow UI, so a coordinator reviewing a run sees
what was promised: steward, source, refresh cycle, classification and the data dictionary.
"""

from __future__ import annotations

from opendata.lifecycle.markdown import md_paragraphs, md_text
from opendata.spec.dataset import DatasetSpec
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
