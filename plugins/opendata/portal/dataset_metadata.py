"""A dataset file's metadata in the portal's terms (pure)."""

from __future__ import annotations

from opendata.portal.models import ColumnSpec, DatasetMarker, DatasetMetadata
from opendata.spec.dataset import DatasetSpec
from opendata.spec.governance import Governance
from opendata.spec.vocab import LICENSES

# Custom fieldsets the portal shows on the dataset page. A real portal's administrator must
# create these fieldsets once (Admin > Metadata); their names are the playbook's vocabulary.
DATASET_FIELDSET = "Dataset Information"
UPDATE_FIELDSET = "Update"
CLASSIFICATION_FIELDSET = "Classification"
# The custom field that ties a portal asset to its dataset file: a retry after a lost answer
# finds the asset by it (Discovery's custom-metadata search) instead of creating a second one.
MARKER_FIELD = "Pipeline Dataset ID"


def dataset_marker(spec: DatasetSpec) -> DatasetMarker:
    return DatasetMarker(DATASET_FIELDSET, MARKER_FIELD, spec.id)


def columns(spec: DatasetSpec) -> list[ColumnSpec]:
    return [ColumnSpec(field_name=c.field_name, name=c.display_name, data_type=c.type.views_api_name,
                       description=c.description) for c in spec.columns]


def custom_fields(spec: DatasetSpec, governance: Governance | None) -> dict[str, dict[str, str]]:
    department = governance.departments[spec.department].name if governance else spec.department
    classification = spec.classification
    return {
        DATASET_FIELDSET: {
            "Department": department,
            "Data Steward": spec.steward.name,
            "Source System": spec.source_system,
            MARKER_FIELD: spec.id,
        },
        UPDATE_FIELDSET: {
            "Update Frequency": spec.update_frequency.value.capitalize(),
            "Automation": "Yes",
        },
        CLASSIFICATION_FIELDSET: {
            "Data Classification": classification.category.value.upper(),
            "Security Level": f"Level {classification.level}",
        },
    }


def dataset_metadata(spec: DatasetSpec, governance: Governance | None) -> DatasetMetadata:
    publishing = spec.publishing
    return DatasetMetadata(
        name=spec.name,
        description=spec.description,
        category=publishing.category,
        tags=tuple(publishing.tags),
        license=LICENSES[publishing.license],
        license_id=publishing.license,
        attribution=publishing.attribution,
        attribution_link=str(publishing.attribution_link) if publishing.attribution_link else None,
        custom_fields=custom_fields(spec, governance),
    )
