"""The dataset file's ``privacy:`` section: what personal data may be published, and how.

Every extract is scanned for personal data before anything reaches the portal, even
privately; a finding blocks the run. This section is where the department answers the
scanner in writing:

    privacy:
      allowed:                      # published on purpose, with the reason on record
        address:
          kinds: [street_address]
          justification: >-
            Addresses of the permitted parcels, public record under the building code; no
            names of owners or applicants are published.
      remove: [applicant_name]      # source columns dropped as soon as they are read
      mask:                         # published columns transformed before staging
        caller_address: {method: hundred_block}
        zip_code: {method: keep_first, keep: 3}
      quasi_identifiers:            # small-cell (k-anonymity) check
        columns: [zip_code, age_group]
        k: 11

Column names are checked against the data dictionary by the loader, with "did you mean" hints.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from opendata.spec.base import NonEmptyStr, StrictModel


class PiiKind(StrEnum):
    """The kinds of personal data the scanner recognises (by column name, by value or both)."""

    SSN = "ssn"
    EMAIL = "email"
    PHONE = "phone"
    CREDIT_CARD = "credit_card"
    DATE_OF_BIRTH = "date_of_birth"
    STREET_ADDRESS = "street_address"
    DRIVERS_LICENSE = "drivers_license"
    PASSPORT = "passport"
    GOVERNMENT_ID = "government_id"
    PERSON_NAME = "person_name"
    MEDICAL_RECORD = "medical_record"
    BANK_ACCOUNT = "bank_account"
    TAX_ID = "tax_id"
    IP_ADDRESS = "ip_address"


class AllowedColumn(StrictModel):
    """A column published although the scanner recognises personal data in it."""

    # The kinds allowed in this column; empty = every kind (say which when you can).
    kinds: list[PiiKind] = Field(default_factory=list)
    # Why publishing it is right: the CDO and the CISO read this in the report.
    justification: Annotated[str, Field(min_length=20)]


class MaskMethod(StrEnum):
    # Every value becomes empty: the column stays in the dataset's schema.
    REDACT = "redact"
    # Text: keep the first `keep` characters (ZIP 90012 -> 900).
    KEEP_FIRST = "keep_first"
    # Text: the house number becomes its hundred block (1234 Main St -> 12XX Main St).
    HUNDRED_BLOCK = "hundred_block"
    # Timestamps: only the month, or only the year, is kept (the first day of it).
    MONTH = "month"
    YEAR = "year"


class MaskRule(StrictModel):
    method: MaskMethod
    keep: Annotated[int, Field(ge=1, le=1000)] | None = None

    @model_validator(mode="after")
    def _keep_for_keep_first(self) -> MaskRule:
        if self.method is MaskMethod.KEEP_FIRST and self.keep is None:
            raise ValueError("keep_first needs keep: the number of characters to keep")
        if self.method is not MaskMethod.KEEP_FIRST and self.keep is not None:
            raise ValueError(f"keep applies to keep_first only, not {self.method.value}")
        return self


class QuasiIdentifiers(StrictModel):
    """Columns that together could single a person out (ZIP code, age, sex, date...).

    Every combination of their values must occur in at least ``k`` rows.
    """

    columns: list[NonEmptyStr] = Field(min_length=1)
    k: Annotated[int, Field(ge=2, le=10_000)]


class Privacy(StrictModel):
    # Data dictionary field name -> why it may hold personal data.
    allowed: dict[str, AllowedColumn] = Field(default_factory=dict)
    # Source column names (not in the data dictionary) dropped from every chunk on read.
    remove: list[NonEmptyStr] = Field(default_factory=list)
    # Data dictionary field name -> how its values are masked before staging.
    mask: dict[str, MaskRule] = Field(default_factory=dict)
    quasi_identifiers: QuasiIdentifiers | None = None
    # A column is a finding when at least this share of its non-empty cells match a kind
    # (and at least one does). 0: any match, the default; free text with one phone number in
    # it is a finding too.
    min_match_share: Annotated[float, Field(ge=0, le=1)] = 0
