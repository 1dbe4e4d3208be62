"""The portal's metadata read back into the dataset file's terms (pure).

The pipeline writes a dataset's checklist facts to the portal as custom fields
(:func:`opendata.portal.dataset_metadata.custom_fields`); a dataset published by hand often
carries the same fieldsets (the playbook's vocabulary). Adopting it reads them back: the
department, the data steward, the source system, the update frequency, the classification and
security level. What has no place in the file (``Date Made Public``, ``Agency`` ...) is kept as
a comment, so nothing the portal said is lost silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from opendata.portal.dataset_metadata import (
    CLASSIFICATION_FIELDSET,
    DATASET_FIELDSET,
    MARKER_FIELD,
    UPDATE_FIELDSET,
)
from opendata.spec.governance import Governance
from opendata.spec.vocab import LICENSES, ClassificationCategory, UpdateFrequency

#: The custom fields the pipeline writes, by (fieldset, field).
DEPARTMENT = (DATASET_FIELDSET, "Department")
STEWARD = (DATASET_FIELDSET, "Data Steward")
SOURCE_SYSTEM = (DATASET_FIELDSET, "Source System")
MARKER = (DATASET_FIELDSET, MARKER_FIELD)
UPDATE_FREQUENCY = (UPDATE_FIELDSET, "Update Frequency")
AUTOMATION = (UPDATE_FIELDSET, "Automation")
CLASSIFICATION = (CLASSIFICATION_FIELDSET, "Data Classification")
SECURITY_LEVEL = (CLASSIFICATION_FIELDSET, "Security Level")
#: Read back into the file (the marker and "Automation" say nothing the file holds).
MAPPED = frozenset({DEPARTMENT, STEWARD, SOURCE_SYSTEM, MARKER, UPDATE_FREQUENCY, AUTOMATION, CLASSIFICATION,
                    SECURITY_LEVEL})

# Words portals use for a frequency -> the file's vocabulary.
_FREQUENCY_WORDS = {
    "hourly": UpdateFrequency.HOURLY, "daily": UpdateFrequency.DAILY, "weekly": UpdateFrequency.WEEKLY,
    "biweekly": UpdateFrequency.BIWEEKLY, "bi-weekly": UpdateFrequency.BIWEEKLY,
    "every two weeks": UpdateFrequency.BIWEEKLY, "monthly": UpdateFrequency.MONTHLY,
    "quarterly": UpdateFrequency.QUARTERLY, "semiannually": UpdateFrequency.SEMIANNUALLY,
    "semi-annually": UpdateFrequency.SEMIANNUALLY, "biannually": UpdateFrequency.SEMIANNUALLY,
    "annually": UpdateFrequency.ANNUALLY, "yearly": UpdateFrequency.ANNUALLY, "annual": UpdateFrequency.ANNUALLY,
    "irregular": UpdateFrequency.IRREGULAR, "as needed": UpdateFrequency.IRREGULAR,
    "historical": UpdateFrequency.HISTORICAL, "not updated": UpdateFrequency.HISTORICAL,
}


def update_frequency(text: str | None) -> UpdateFrequency | None:
    if not text:
        return None
    return _FREQUENCY_WORDS.get(" ".join(text.strip().lower().split()))


def classification(category: str | None, level: str | None) -> tuple[ClassificationCategory | None, int | None]:
    """``PUBLIC`` / ``Level 1`` as the pipeline writes them (the category in any case)."""
    found_category = None
    if category:
        try:
            found_category = ClassificationCategory(category.strip().lower())
        except ValueError:
            found_category = None
    found_level = None
    match = re.fullmatch(r"\s*(?:level\s*)?([12])\s*", level or "", re.IGNORECASE)
    if match:
        found_level = int(match.group(1))
    return found_category, found_level


def license_id(view_license_id: str | None, license_name: str | None) -> str | None:
    """The project's license id (:data:`opendata.spec.vocab.LICENSES`) for the portal's license,
    by its legacy id, else by its name; None when the project has no such license."""
    if view_license_id and view_license_id in LICENSES:
        return view_license_id
    if license_name:
        by_name = {name.lower(): key for key, name in LICENSES.items()}
        return by_name.get(license_name.strip().lower())
    return None


def department_key(governance: Governance, text: str | None) -> str | None:
    """The governance.yaml key of a department named ``text`` (its name or its key)."""
    if not text:
        return None
    wanted = " ".join(text.strip().lower().split())
    for key, department in governance.departments.items():
        if wanted in (key.lower(), " ".join(department.name.lower().split())):
            return key
    return None


def person_key_named(governance: Governance, name: str | None) -> str | None:
    """The key of the governance.yaml person called ``name`` (None: nobody, or several)."""
    if not name:
        return None
    wanted = " ".join(name.strip().lower().split())
    found = [key for key, person in governance.people.items() if " ".join(person.name.lower().split()) == wanted]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class UnmappedFields:
    """Custom fields the file has no place for: ``{fieldset: {field: value}}``."""

    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{fieldset} / {name}: {value}" for fieldset, values in self.fields.items()
                for name, value in values.items()]


def unmapped(custom: Mapping[str, Mapping[str, str]]) -> UnmappedFields:
    kept: dict[str, dict[str, str]] = {}
    for fieldset, values in custom.items():
        for name, value in values.items():
            if (fieldset, name) not in MAPPED and value:
                kept.setdefault(fieldset, {})[name] = value
    return UnmappedFields(kept)
