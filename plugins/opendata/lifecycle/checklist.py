"""The Data Submission Checklist of a dataset file, rendered as Markdown.

Shown as the DAG's documentation in the Airflow UI, so a coordinator reviewing a run sees
what was promised: steward, source, refresh cycle, classification and the data dictionary.
"""

from __future__ import annotations

from opendata.spec.dataset import DatasetSpec
from opendata.spec.vocab import LICENSES


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ") if value not in (None, "") else "—"


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
    lines = [f"## {spec.name}", "", spec.description, "", "### Data Submission Checklist", "",
             "| Field | Answer |", "|---|---|"]
    lines += [f"| {label} | {_cell(value)} |" for label, value in checklist_rows(spec)]
    lines += ["", "### Data dictionary", "", "| Field name | Display name | Type | Description |", "|---|---|---|---|"]
    lines += [f"| `{c.field_name}` | {_cell(c.display_name)} | {c.type.value} | {_cell(c.description)} |"
              for c in spec.columns]
    return "\n".join(lines) + "\n"
