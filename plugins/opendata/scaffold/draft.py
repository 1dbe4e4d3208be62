"""The drafted dataset file: every field the model requires, in its order, filled with what the
source, the governance file and the department's other files tell, a comment wherever a value
was chosen for the reader rather than known, and a ``TODO:`` only where a person must write
(pure: a profile and a context in, data and comments out).

What a person must write is plain English for the public (the dataset's description, each
column's meaning unless the database has a comment for it) and the reasons for publishing
personal data. Everything else gets a sensible value and a comment saying how it was chosen, so
that a draft with its TODOs filled passes lint and is a real dataset file, not a form.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opendata.scaffold.identify import composite_key_note, suggest_row_identifier
from opendata.scaffold.names import display_name
from opendata.scaffold.people import DepartmentPeople
from opendata.scaffold.privacy import draft_privacy, draft_quasi_identifiers, scan
from opendata.scaffold.profile import ColumnProfile, SourceProfile
from opendata.scaffold.todo import todo
from opendata.scaffold.watermark import suggest_watermark, updated_at_without_watermark
from opendata.spec.dataset import SCHEMA_VERSION, DatasetSpec
from opendata.spec.todo_check import todo_paths
from opendata.spec.vocab import SocrataType

Path_ = tuple[str | int, ...]

DEFAULT_LICENSE = "PUBLIC_DOMAIN"
DEFAULT_FREQUENCY = "daily"

_TIMESTAMPS = {SocrataType.FLOATING_TIMESTAMP, SocrataType.FIXED_TIMESTAMP}
# Date columns that say when something happened (not when a row was last touched): the coverage's start.
_NOT_COVERAGE = re.compile(r"(?:updated|modified|changed|edited|loaded|etl|extracted|synced|deleted)")
# Columns that tell how fine the geography is, finest first.
_GRANULARITY = (
    (re.compile(r"(?:^|_)(?:address|street|location_address)(?:_|$)"), "address"),
    (re.compile(r"(?:^|_)(?:lat|latitude|lon|lng|longitude|location|geom|point)(?:_|$)"), "point"),
    (re.compile(r"(?:^|_)(?:apn|ain|parcel)(?:_|$)"), "parcel"),
    (re.compile(r"(?:^|_)(?:census_tract|tract)(?:_|$)"), "census tract"),
    (re.compile(r"(?:^|_)(?:zip|zipcode|zip_code|postal_code)(?:_|$)"), "zip code"),
    (re.compile(r"(?:^|_)(?:council_district|cd)(?:_|$)"), "council district"),
    (re.compile(r"(?:^|_)(?:neighborhood|neighbourhood|community)(?:_|$)"), "neighborhood"),
)


@dataclass(frozen=True)
class DraftContext:
    """What the draft knows besides the source: who, where and when."""

    dataset_id: str
    people: DepartmentPeople
    city_name: str
    today: dt.date
    # The display name (--name); None: from the table, file or URL.
    name: str | None = None
    # Portal categories of the department's other dataset files (most used first), and of all files.
    department_categories: Sequence[str] = ()
    known_categories: Sequence[str] = ()


@dataclass
class Draft:
    data: dict[str, Any]
    comments: dict[Path_, str]
    row_identifier: str | None
    watermark: str | None
    privacy: list[str]
    removed: list[str]
    quasi_identifiers: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def todos(self) -> list[tuple[Path_, str]]:
        return list(todo_paths(self.data))

    @property
    def columns(self) -> list[dict[str, Any]]:
        return list(self.data.get("columns", []))


def draft_dataset(profile: SourceProfile, context: DraftContext) -> Draft:
    comments: dict[Path_, str] = {(): (
        f"Drafted by `opendata new` from {profile.source_system} on {context.today.isoformat()}. Comments say how "
        f"each suggested value was chosen; replace every TODO (`opendata lint` names those left), then run "
        f"`opendata check {context.dataset_id}`.")}
    findings = scan(profile)
    row_id = suggest_row_identifier(profile)
    drop_on_read = profile.relation is None
    privacy = draft_privacy(profile, findings, row_identifier=row_id.field_name if row_id else None,
                            drop_on_read=drop_on_read)
    removed = {column.name for column, _ in privacy.removed}
    published = [c for c in profile.columns if c.name not in removed]
    if not published:
        # Nothing left to publish: the draft keeps every column and says why each is personal.
        published = list(profile.columns)
    published_names = {c.field_name for c in published}
    watermark = suggest_watermark(profile, published_names)
    people = context.people

    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "id": context.dataset_id,
                            "department": people.department}
    name = context.name or profile.title or display_name(context.dataset_id, context.dataset_id.replace("-", "_"))
    data["name"] = name
    if not context.name:
        comments[("name",)] = "from the source's name: the title people see on the portal"
    if profile.table_comment:
        data["description"] = profile.table_comment
        comments[("description",)] = ("from the table's comment: rewrite it for the public if it is terse (what a row "
                                      "is, what the data covers and leaves out)")
    else:
        data["description"] = todo(f"describe in plain English what a row of {name} is, what the data covers and "
                                   f"what it leaves out, for a reader who has never seen the source system")
    data["steward"] = people.steward()
    comments[("steward",)] = (f"the department's open-data coordinator ({people.coordinator}) until a data steward "
                              f"of the source system is named here")
    data["coordinator"] = people.coordinator
    data["source_system"] = profile.source_system
    comments[("source_system",)] = "how the source is reached (no credentials: they stay in the Airflow connection)"
    data["coverage"], comments[("coverage", "start_date")] = _coverage_start(published, context)
    data["coverage"].update({"end_date": "current", "geographic_coverage": context.city_name,
                             "geographic_granularity": _granularity(published)})
    comments[("coverage", "geographic_granularity")] = "guessed from the columns; say how fine the locations are"
    data["update_frequency"] = DEFAULT_FREQUENCY
    comments[("update_frequency",)] = ("how often the department promises fresh data (it sets the DAG's schedule and "
                                       "what the freshness monitor expects); daily by default: change it to the "
                                       "promise")
    data["collection_frequency"] = DEFAULT_FREQUENCY
    data["existing_publication"] = {"published": False}
    comments[("existing_publication",)] = ("already public on the portal? Then `opendata adopt` takes the dataset "
                                           "over instead of publishing a second copy")
    data["priority"] = {"level": "medium"}
    data["classification"] = {"category": "public", "level": 1}
    comments[("classification",)] = ("level 1, public: confirm it. Level 2 (restricted or policy-sensitive) "
                                     "publishes only with an approval recorded here; level 3 never publishes")
    data["data_quality"] = {"rating": "medium"}
    comments[("data_quality",)] = "the department's own rating (high, medium, low); say in details what is known wrong"

    publishing, publishing_comments = _publishing(profile, context, name, row_id.field_name if row_id else None)
    data["publishing"] = publishing
    comments.update(publishing_comments)
    if row_id is not None:
        comments[("publishing", "row_identifier")] = row_id.reason + (
            "" if not row_id.inferred else "; without a unique one, remove this line (each refresh then replaces "
                                           "the dataset)")
    else:
        why = composite_key_note(profile) or ("no column is known to identify a row (no primary key, or no sampled "
                                              "column unique with an id-like name): each refresh replaces the whole "
                                              "dataset. Add row_identifier: <field name> if one does")
        comments[("publishing",)] = why

    data["source"] = _source(profile, published, watermark.field_name if watermark else None)
    if removed and not drop_on_read:
        comments[("source", "query")] = "\n".join(f"left out of the query: {column.name}: {why}"
                                                  for column, why in privacy.removed)
    if watermark is not None:
        comments[("source", "watermark")] = watermark.reason
    else:
        note = updated_at_without_watermark(profile, published_names)
        if note:
            comments[("source",)] = note
    data["columns"], column_comments = _columns(published)
    comments.update(column_comments)

    section = dict(privacy.section)
    comments.update(privacy.comments)
    quasi = draft_quasi_identifiers(profile, published_names)
    if quasi is not None:
        section["quasi_identifiers"], comments[("privacy", "quasi_identifiers")] = quasi
    if section:
        data["privacy"] = {key: section[key] for key in ("allowed", "remove", "mask", "quasi_identifiers")
                           if key in section}
    order = list(DatasetSpec.model_fields)
    data = {key: data[key] for key in sorted(data, key=order.index)}
    return Draft(data=data, comments=comments, row_identifier=row_id.field_name if row_id else None,
                 watermark=watermark.field_name if watermark else None, privacy=privacy.summary,
                 removed=[f"{column.name} ({why})" for column, why in privacy.removed],
                 quasi_identifiers=list(quasi[0]["columns"]) if quasi else [], notes=list(profile.notes))


def _columns(published: Sequence[ColumnProfile]) -> tuple[list[dict[str, Any]], dict[Path_, str]]:
    columns: list[dict[str, Any]] = []
    comments: dict[Path_, str] = {}
    for i, column in enumerate(published):
        entry: dict[str, Any] = {
            "field_name": column.field_name,
            "display_name": display_name(column.name, column.field_name),
            "type": column.socrata_type.value,
            "description": column.comment or todo(f"describe {column.name} in plain English: what a value means, "
                                                  f"its unit or its codes"),
        }
        if column.field_name != column.name:
            entry["source_column"] = column.name
        columns.append(entry)
        # The source's type where the choice needs a word: a reviewer checks the mapping there.
        said = []
        if column.type_note or column.is_primary_key:
            said.append(f"{column.source_type}" + (", the primary key" if column.is_primary_key else ""))
        if column.type_note:
            said.append(column.type_note)
        if column.comment:
            said.append("description from the column's comment")
        if said:
            comments[("columns", i, "type")] = "; ".join(said)
    return columns, comments


def _source(profile: SourceProfile, published: Sequence[ColumnProfile], watermark: str | None) -> dict[str, Any]:
    source = dict(profile.source)
    if profile.relation is not None:
        # A table: the query reads exactly the published columns.
        source["query"] = profile.table_query([c.name for c in published])
    if watermark is not None:
        source["watermark"] = watermark
    return source


def _publishing(profile: SourceProfile, context: DraftContext, name: str,
                row_identifier: str | None) -> tuple[dict[str, Any], dict[Path_, str]]:
    people = context.people
    comments: dict[Path_, str] = {}
    publishing: dict[str, Any] = {}
    if context.department_categories:
        publishing["category"] = context.department_categories[0]
        comments[("publishing", "category")] = (f"the portal category of most of {people.department}'s datasets; "
                                                f"change it if this one belongs elsewhere")
    else:
        known = (f"the catalog uses: {', '.join(context.known_categories)}" if context.known_categories else
                 "for example Health, Housing and Real Estate, Public Safety or Transportation")
        publishing["category"] = todo(f"the portal category people browse this dataset under ({known})")
    publishing["tags"] = _tags(name, people.department)
    comments[("publishing", "tags")] = "from the name and the department: add the words people search for"
    publishing["license"] = DEFAULT_LICENSE
    comments[("publishing", "license")] = "the city's usual license for open data (other ids: spec/vocab.py LICENSES)"
    publishing["attribution"] = f"{context.city_name}, {people.department_name}"
    publishing["contact"] = people.contact()
    comments[("publishing", "contact")] = ("where the public writes with questions: the coordinator's address until "
                                           "the department has an open-data mailbox")
    if row_identifier is not None:
        publishing["row_identifier"] = row_identifier
    return publishing, comments


def _tags(name: str, department: str) -> list[str]:
    tags: list[str] = []
    for tag in (name.lower(), department.replace("-", " ")):
        tag = " ".join(re.sub(r"[^a-z0-9 ]+", " ", tag).split())[:60]
        if tag and tag not in tags:
            tags.append(tag)
    return tags or [department]


def _coverage_start(published: Sequence[ColumnProfile], context: DraftContext) -> tuple[dict[str, Any], str]:
    for column in published:
        if column.socrata_type not in _TIMESTAMPS or _NOT_COVERAGE.search(column.field_name):
            continue
        dates = [d for d in (_as_date(v) for v in column.samples) if d is not None]
        if dates:
            return {"start_date": min(dates)}, (f"the earliest {column.name} in the sample: check the first day the "
                                                f"whole source covers")
    return {"start_date": context.today}, ("no date column to tell from: the day of this draft; give the first day "
                                           "the data covers")


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _granularity(published: Sequence[ColumnProfile]) -> str:
    names = [c.field_name for c in published]
    for pattern, granularity in _GRANULARITY:
        if any(pattern.search(n) for n in names):
            return granularity
    return "city"


def department_categories(files_data: Sequence[Any]) -> list[str]:
    """Portal categories of dataset files' plain data, most used first."""
    counts: Counter[str] = Counter()
    for data in files_data:
        publishing = data.get("publishing") if isinstance(data, dict) else None
        category = publishing.get("category") if isinstance(publishing, dict) else None
        if isinstance(category, str) and category.strip() and not category.lstrip().startswith("TODO:"):
            counts[category.strip()] += 1
    return [category for category, _ in counts.most_common()]
