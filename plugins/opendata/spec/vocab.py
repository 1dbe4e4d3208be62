"""Controlled vocabularies of the dataset file.

The playbook's Data Submission Checklist asks for free-text answers ("Daily, monthly,
quarterly, annually"); a controlled vocabulary makes them machine-usable: the update
frequency drives the DAG schedule (``spec/schedule.py``) and the freshness policy, the
classification decides whether a dataset may publish at all.
"""

from __future__ import annotations

from enum import StrEnum


class UpdateFrequency(StrEnum):
    """How often the department promises to refresh the published data."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUALLY = "semiannually"
    ANNUALLY = "annually"
    # No promise: refreshed when something changes. Listed by the monitor, never alerted.
    IRREGULAR = "irregular"
    # Closed data that will not change again.
    HISTORICAL = "historical"

    @property
    def accrual_periodicity(self) -> str:
        """DCAT-US / Project Open Data ``accrualPeriodicity`` (ISO 8601 repeating duration)."""
        return _PERIODICITY[self]


_PERIODICITY: dict[UpdateFrequency, str] = {
    UpdateFrequency.HOURLY: "R/PT1H",
    UpdateFrequency.DAILY: "R/P1D",
    UpdateFrequency.WEEKLY: "R/P1W",
    UpdateFrequency.BIWEEKLY: "R/P2W",
    UpdateFrequency.MONTHLY: "R/P1M",
    UpdateFrequency.QUARTERLY: "R/P3M",
    UpdateFrequency.SEMIANNUALLY: "R/P6M",
    UpdateFrequency.ANNUALLY: "R/P1Y",
    UpdateFrequency.IRREGULAR: "irregular",
    UpdateFrequency.HISTORICAL: "irregular",
}


class ClassificationCategory(StrEnum):
    """The checklist's Data Classification."""

    PUBLIC = "public"
    PROTECTED = "protected"
    SENSITIVE = "sensitive"


class Rating(StrEnum):
    """High / Medium / Low, as the checklist asks for priority and data quality."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class SocrataType(StrEnum):
    """Column data types a Socrata dataset accepts (dev.socrata.com ``docs/datatypes``).

    Deprecated portal types (money, phone, email, ...) are left out on purpose: new datasets
    should not be created with them.
    """

    TEXT = "text"
    NUMBER = "number"
    CHECKBOX = "checkbox"
    FLOATING_TIMESTAMP = "floating_timestamp"  # "calendar_date" in /api/views
    FIXED_TIMESTAMP = "fixed_timestamp"
    POINT = "point"
    URL = "url"

    @property
    def views_api_name(self) -> str:
        """The ``dataTypeName`` the legacy ``/api/views`` API uses for this type."""
        return {"floating_timestamp": "calendar_date", "fixed_timestamp": "date"}.get(self.value, self.value)


# Licenses a portal knows (``GET /api/licenses``): id -> the name the Metadata API expects.
LICENSES: dict[str, str] = {
    "PUBLIC_DOMAIN": "Public Domain",
    "CC0_10": "Creative Commons 1.0 Universal (Public Domain Dedication)",
    "PDDL": "Open Data Commons Public Domain Dedication and License",
    "CC_30_BY": "Creative Commons Attribution 3.0 Unported",
    "CC_40_BY": "Creative Commons Attribution 4.0 International",
    "ODC_BY": "Open Data Commons Attribution License",
    "USGOV_WORKS": "Public Domain U.S. Government",
    "SEE_TERMS_OF_USE": "See Terms of Use",
}
