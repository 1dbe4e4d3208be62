"""The dataset file: a department's inventory entry, its Data Submission Checklist and its
portal metadata in one place (``include/datasets/<department>/<dataset id>.yaml``).

Field names follow the playbook's draft checklist (``5appendix.md``) where it has one;
the rest is what publishing on a Socrata portal needs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Annotated, Final, Literal, Self

from pydantic import BeforeValidator, Field, HttpUrl, StrictInt, field_validator, model_validator

from opendata.spec.base import Contact, NonEmptyStr, Slug, StrictModel
from opendata.spec.freshness import FreshnessSection
from opendata.spec.privacy import Privacy
from opendata.spec.quality import Quality
from opendata.spec.schedule import dataset_schedule
from opendata.spec.vocab import (
    LICENSES,
    ClassificationCategory,
    Rating,
    SocrataType,
    UpdateFrequency,
)

# Socrata API field names: lower-case, start with a letter, letters/digits/underscores.
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Coverage(StrictModel):
    """Temporal and geographic coverage (checklist: start/end date, geography)."""

    start_date: dt.date
    # A date, or "current" while the data is still being updated (the checklist's wording).
    end_date: dt.date | Literal["current"]
    geographic_coverage: NonEmptyStr
    # address, parcel, census tract, council district, zip code, city, ...
    geographic_granularity: NonEmptyStr

    @model_validator(mode="after")
    def _dates_in_order(self) -> Coverage:
        if isinstance(self.end_date, dt.date) and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class ExistingPublication(StrictModel):
    published: bool
    link: HttpUrl | None = None

    @model_validator(mode="after")
    def _link_when_published(self) -> ExistingPublication:
        if self.published and self.link is None:
            raise ValueError("link is required when published is true")
        return self


class Priority(StrictModel):
    level: Rating
    comments: str | None = None


class Classification(StrictModel):
    """Data classification and security level (appendix: Security Considerations)."""

    category: ClassificationCategory
    # Level 1 unrestricted, level 2 restricted or policy-sensitive, level 3 never published.
    level: Annotated[int, Field(ge=1, le=3)]
    details: str | None = None
    # Level 2 publishes only with an explicit approval recorded here (the Chief Data Officer
    # or the department's leadership); validation blocks the run without it.
    approval: RecordedApproval | None = None

    @field_validator("level")
    @classmethod
    def _publishable(cls, level: int) -> int:
        if level == 3:
            raise ValueError(
                "level 3 data is restricted by PII, HIPAA, state or federal law and will NOT be "
                "accessible through the Open Data Portal; remove this dataset from the publication "
                "inventory or publish a de-identified level 1 derivative instead"
            )
        return level

    @model_validator(mode="after")
    def _details_when_restricted(self) -> Classification:
        if self.category is not ClassificationCategory.PUBLIC and not self.details:
            raise ValueError(f"details are required for {self.category.value} data")
        return self


class DataQuality(StrictModel):
    rating: Rating
    details: str | None = None


class Publishing(StrictModel):
    """What the portal needs beyond the checklist."""

    category: NonEmptyStr
    tags: list[NonEmptyStr] = Field(min_length=1)
    license: str
    attribution: NonEmptyStr
    attribution_link: HttpUrl | None = None
    contact: Contact
    # The column that identifies a row, so refreshes update rows instead of appending them.
    row_identifier: str | None = None

    @field_validator("license")
    @classmethod
    def _known_license(cls, value: str) -> str:
        if value not in LICENSES:
            raise ValueError(f"unknown license id; expected one of: {', '.join(sorted(LICENSES))}")
        return value

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        lowered = [tag.lower() for tag in value]
        if len(set(lowered)) != len(lowered):
            raise ValueError("tags must be unique")
        return lowered


class Column(StrictModel):
    """One entry of the data dictionary."""

    field_name: str
    display_name: NonEmptyStr
    type: SocrataType
    description: NonEmptyStr
    # The column's name in the source when it differs from field_name.
    source_column: str | None = None

    @field_validator("field_name")
    @classmethod
    def _api_field_name(cls, value: str) -> str:
        if not _FIELD_NAME.fullmatch(value):  # match() would let a trailing newline through
            raise ValueError(
                "must be a Socrata API field name: lower-case letters, digits and '_', "
                "starting with a letter, at most 63 characters"
            )
        return value

    @property
    def source_name(self) -> str:
        return self.source_column or self.field_name


class _SourceBase(StrictModel):
    # Rows read per chunk: bounds the memory an extract needs, whatever the table size
    # (measured: 10,000 rows of 20 columns keep an extract near 110 MB above the imports).
    chunk_size: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000
    # A column (field_name) that only grows when a row changes: an updated-at timestamp or an
    # increasing id. Refreshes then read only rows past the last confirmed watermark.
    watermark: str | None = None


class SqlSource(_SourceBase):
    """Any database SQLAlchemy can reach, through an Airflow connection."""

    kind: Literal["sql"]
    conn_id: NonEmptyStr
    # Exactly one of: an inline query, or a file under include/sql/.
    query: str | None = None
    query_file: str | None = None

    @model_validator(mode="after")
    def _one_query(self) -> SqlSource:
        if (self.query is None) == (self.query_file is None):
            raise ValueError("give exactly one of query or query_file")
        return self


class FileSource(_SourceBase):
    """A CSV or Excel file; relative paths are resolved against the include folder."""

    kind: Literal["file"]
    path: NonEmptyStr
    format: Literal["csv", "excel"] | None = None
    sheet: str | int | None = None
    encoding: str = "utf-8"
    delimiter: str = ","

    @property
    def resolved_format(self) -> str:
        if self.format:
            return self.format
        return "excel" if self.path.lower().endswith((".xlsx", ".xlsm", ".xls")) else "csv"


class Pagination(StrictModel):
    """Offset/limit paging of a JSON API: pages are requested until one comes back short."""

    limit_param: str = "limit"
    offset_param: str = "offset"
    page_size: Annotated[int, Field(ge=1, le=100_000)] = 1000


class HttpSource(_SourceBase):
    """A JSON or CSV endpoint; with ``conn_id`` the URL is relative to that HTTP connection."""

    kind: Literal["http"]
    conn_id: str | None = None
    url: NonEmptyStr
    format: Literal["json", "csv"]
    # Dotted path to the list of records in a JSON body ("data.items"); empty = the body itself.
    records_path: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    pagination: Pagination | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 60

    @model_validator(mode="after")
    def _absolute_without_connection(self) -> HttpSource:
        if self.conn_id is None and not re.match(r"^https?://", self.url):
            raise ValueError("url must start with http:// or https:// when no conn_id is given")
        if self.pagination is not None and self.format != "json":
            raise ValueError("pagination is supported for json endpoints only")
        return self


Source = Annotated[SqlSource | FileSource | HttpSource, Field(discriminator="kind")]


class RecordedApproval(StrictModel):
    """An approval given outside Airflow and recorded in the file (who, when)."""

    # A person key from the governance file.
    approved_by: Slug
    approved_at: dt.date


class Publication(StrictModel):
    """How the dataset goes public (playbook Steps 1-3)."""

    # Step 1 already given by department leadership: the DAG skips its approval task.
    department_approval: RecordedApproval | None = None
    # Step 3, strategic publication: never public before this moment, even if approved.
    not_before: dt.datetime | None = None
    # Remind the Chief Data Officer when the Stage 1 review has waited this long...
    review_reminder_days: Annotated[float, Field(gt=0, le=365)] = 3
    # ...and stop waiting (the run fails; the next run waits again) after this long.
    review_timeout_days: Annotated[float, Field(gt=0, le=365)] = 30
    # How often the portal's approval state is polled while waiting.
    review_poll_minutes: Annotated[float, Field(ge=0.01, le=24 * 60)] = 10

    @field_validator("not_before")
    @classmethod
    def _timezone_given(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset, for example 2026-12-01T09:00:00-08:00")
        return value

    @model_validator(mode="after")
    def _reminder_before_timeout(self) -> Publication:
        if self.review_reminder_days >= self.review_timeout_days:
            raise ValueError("review_reminder_days must be less than review_timeout_days")
        return self


class RefreshPolicy(StrictModel):
    """Limits on what a scheduled refresh may do to the public dataset."""

    # Rows gone from the source are deleted on the portal only up to this share of the
    # published rows; beyond it the refresh stops before touching the portal.
    max_deleted_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    # "upsert" sends new/changed rows by row identifier; "replace" swaps the whole dataset
    # atomically through a portal revision. Default: upsert with a row identifier, else replace.
    mode: Literal["upsert", "replace"] | None = None


class History(StrictModel):
    """Every published version's staged extract is archived, for this many days."""

    retention_days: Annotated[int, Field(ge=1, le=36500)] = 365


class DagSettings(StrictModel):
    """How Airflow runs the dataset's DAG; everything has a sensible default."""

    # A cron expression or preset, used as written; by default update_frequency at the dataset's
    # own offset within the period (spec/schedule.py).
    schedule: str | None = None
    start_date: dt.date = dt.date(2026, 1, 1)
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    retry_delay_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 5
    max_retry_delay_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 60

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is None or value.startswith("@"):
            if value is not None and value not in _PRESETS:
                raise ValueError(f"unknown preset; expected one of: {', '.join(sorted(_PRESETS))}")
            return value
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError("not a valid cron expression")
        return value


_PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@continuous"}


# The dataset-file schema this code reads. A change that an existing file could not pass gets a
# new number, and ``_known_schema_version`` tells a file of another number what to do.
SCHEMA_VERSION = 1

# A dataset file's status: ``active`` (the default) is a dataset whose DAG runs; ``planned`` is an
# inventory entry not ready to run yet (no source or data dictionary needed), on the timeline by
# its target date. ("active" names the file's state, not the playbook's passive/active/strategic
# publishing categories; "ready" would read as the opposite of the registry's not-ready stage,
# which every new dataset's DAG shows.)
ACTIVE: Final = "active"
PLANNED: Final = "planned"
STATUSES = (ACTIVE, PLANNED)
Status = Literal["active", "planned"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    # Only YYYY-MM-DD (or a date): pydantic would also read a number as seconds since 1970, and
    # a timestamp as its day, neither of which is a target date someone wrote on purpose.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("give the target publication date as YYYY-MM-DD, for example 2027-03-31")


# The day a dataset is planned to go public (the playbook's Publication Calendar).
TargetDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class InventoryEntry(StrictModel):
    """What the department's inventory knows of a dataset (the playbook's Draft Data Checklist,
    ``5appendix.md``), whether or not it is ready to run: the fields every dataset file has."""

    # The version of the dataset-file schema the file is written for (a file without it is
    # read as version 1, the first one).
    schema_version: StrictInt = SCHEMA_VERSION
    # Stable id, used as the Airflow dag_id and the file name.
    id: Slug
    department: Slug
    name: NonEmptyStr
    description: NonEmptyStr
    steward: Contact
    # A person key from the governance file, one of the department's coordinators.
    coordinator: Slug
    source_system: NonEmptyStr
    coverage: Coverage
    update_frequency: UpdateFrequency
    collection_frequency: UpdateFrequency
    existing_publication: ExistingPublication
    priority: Priority
    technical_challenges: str | None = None
    classification: Classification
    data_quality: DataQuality
    # active (the default): the dataset's DAG runs; planned: an inventory entry, no DAG yet.
    status: Status = ACTIVE
    # The target publication date: required when planned; for an active dataset, optional (its
    # first release's target, while it is not public yet).
    target_date: TargetDate | None = None

    @field_validator("schema_version")
    @classmethod
    def _known_schema_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(
                f"{value} is newer than this deployment reads (schema version {SCHEMA_VERSION}): upgrade "
                f"civic-opendata to a release that reads version {value}, or write the file for version "
                f"{SCHEMA_VERSION}")
        if value < 1:
            raise ValueError(f"schema versions start at 1; this deployment reads version {SCHEMA_VERSION}: "
                             f"write 'schema_version: {SCHEMA_VERSION}'")
        return value


def _duplicate_field_names(columns: list[Column]) -> None:
    # Counted once: names.count() per name is quadratic, minutes for a hostile dictionary.
    counts = Counter(column.field_name for column in columns)
    duplicates = sorted(name for name, n in counts.items() if n > 1)
    if duplicates:
        raise ValueError(f"columns: duplicate field_name {', '.join(duplicates)}")


class _DatasetFileSections(InventoryEntry):
    """The sections after the inventory entry, written once for both kinds of file: a file that
    runs requires publishing, source and columns (:class:`DatasetSpec` narrows them, keeping
    their place in the field order), a planned one may give them as they become known."""

    publishing: Publishing | None = None
    source: Annotated[SqlSource | FileSource | HttpSource | None, Field(discriminator="kind")] = None
    columns: Annotated[list[Column], Field(min_length=1)] | None = None
    publication: Publication = Field(default_factory=Publication)
    refresh: RefreshPolicy = Field(default_factory=RefreshPolicy)
    history: History = Field(default_factory=History)
    dag: DagSettings = Field(default_factory=DagSettings)
    quality: Quality = Field(default_factory=Quality)
    privacy: Privacy = Field(default_factory=Privacy)
    # Term -> plain-English definition, for terms the documentation check flags as unclear
    # (acronyms and jargon in descriptions) or a reviewer asked to explain.
    glossary: dict[NonEmptyStr, NonEmptyStr] = Field(default_factory=dict)
    # How the freshness monitor judges this dataset, when the update_frequency defaults do not fit.
    freshness: FreshnessSection = Field(default_factory=FreshnessSection)

    @model_validator(mode="after")
    def _dictionary_consistent(self) -> Self:
        if self.columns is not None:
            _duplicate_field_names(self.columns)
        return self


class DatasetSpec(_DatasetFileSections):
    """One dataset that runs: inventory entry + Data Submission Checklist + portal metadata."""

    status: Literal["active"] = ACTIVE
    publishing: Publishing
    source: Source
    columns: list[Column] = Field(min_length=1)

    @property
    def field_names(self) -> list[str]:
        return [column.field_name for column in self.columns]

    @property
    def refresh_mode(self) -> str:
        if self.refresh.mode:
            return self.refresh.mode
        return "upsert" if self.publishing.row_identifier else "replace"

    @property
    def schedule(self) -> str | None:
        """The file's ``dag.schedule`` as written, else its update frequency at the dataset's own
        start time within the period (``spec/schedule.py``)."""
        return dataset_schedule(self.id, self.update_frequency, self.dag.schedule)


class PlannedDataset(_DatasetFileSections):
    """A dataset the department plans to publish, not ready to run (``status: planned``): the
    inventory fields and a target date. The sections a run needs may be filled in as they are
    known; each one given is checked in full, as in a dataset that runs. No DAG is built."""

    status: Literal["planned"]
    target_date: TargetDate


#: A dataset file's typed model: one that runs, or one that is planned.
DatasetFile = DatasetSpec | PlannedDataset


def model_for_status(status: str) -> type[DatasetSpec] | type[PlannedDataset]:
    """The model of a file whose status is ``status`` (one of STATUSES)."""
    return PlannedDataset if status == PLANNED else DatasetSpec
