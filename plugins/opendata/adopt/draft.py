"""The dataset file of a dataset taken over from the portal (pure).

Every field the portal knows is written from it: name, description, category, tags, license,
attribution, the columns with their types and descriptions, the row identifier, and the
checklist facts the portal's custom fields hold. The department's people come from
governance.yaml. ``TODO:`` stands where a person must write (a column without a description,
the source when none was given, checklist facts the portal cannot know): lint names each one,
and the file builds no DAG until all are replaced.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from opendata.adopt import fields as portal_fields
from opendata.adopt.source_match import SourceComparison, compare_source
from opendata.lifecycle.columns import file_type
from opendata.portal.described import PortalDescription
from opendata.scaffold.people import DepartmentPeople
from opendata.scaffold.profile import SourceProfile
from opendata.scaffold.todo import is_todo, todo
from opendata.spec.governance import Governance
from opendata.spec.vocab import LICENSES

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

Comments = dict[tuple[str | int, ...], str]


class NotAdoptable(Exception):
    """The portal dataset cannot be described by a dataset file; ``str()`` says why."""


def dataset_id_for(name: str) -> str:
    """A dataset id from the portal's name: lower-case words joined by '-' (at most 80 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80].rstrip("-") or "dataset"


@dataclass(frozen=True)
class Draft:
    data: dict[str, Any]
    comments: Comments
    #: (dotted path, text) of every TODO written, in file order.
    todos: tuple[tuple[str, str], ...]
    comparison: SourceComparison | None = None
    #: The column report of ``comparison`` (empty: no source given, or it matches).
    mismatch: tuple[str, ...] = ()


def unsupported_columns(description: PortalDescription) -> list[str]:
    """Columns a dataset file cannot hold: a type the pipeline does not publish, or a field name
    the file's rule refuses."""
    out = []
    for column in description.columns:
        if file_type(column.data_type) is None:
            out.append(f"{column.field_name} has type {column.data_type or 'unknown'}, which the pipeline does not "
                       f"publish")
        elif not _FIELD_NAME.fullmatch(column.field_name):
            out.append(f"{column.field_name} is not a field name a dataset file allows (lower-case letters, digits "
                       f"and '_', starting with a letter)")
    return out


def draft_dataset(description: PortalDescription, *, dataset_id: str, people: DepartmentPeople,
                  governance: Governance, portal_page: str, adopted_by: str, today: dt.date,
                  profile: SourceProfile | None = None) -> Draft:
    """The dataset file's data, its comments and the TODOs left in it."""
    problems = unsupported_columns(description)
    if problems:
        raise NotAdoptable("; ".join(problems))
    custom = description.custom_fields

    def value(key: tuple[str, str]) -> str | None:
        return description.custom_value(*key)

    comments: Comments = {}
    header = [f"Adopted from the portal: {portal_page} (`opendata adopt`, {today:%Y-%m-%d}, by {adopted_by}).",
              "Public there before the pipeline took it over: its DAG refreshes it and never creates it.",
              "Replace every TODO (`opendata lint` names them); the DAG is built once none is left."]
    left = portal_fields.unmapped(custom).lines()
    if left:
        header += ["", "Custom fields on the portal with no place in this file (kept there as they are):",
                   *[f"  {line}" for line in left]]
    comments[()] = "\n".join(header)

    steward_name = value(portal_fields.STEWARD)
    steward_key = portal_fields.person_key_named(governance, steward_name)
    if steward_key is not None:
        person = governance.people[steward_key]
        steward: dict[str, Any] = {"name": person.name, "email": person.email}
    elif steward_name:
        steward = {"name": steward_name, "email": todo(f"the e-mail address of {steward_name}, the data steward "
                                                       f"the portal names")}
    else:
        steward = people.steward()
        comments[("steward",)] = "Suggested: the department's coordinator, until a data steward is named."

    frequency = portal_fields.update_frequency(value(portal_fields.UPDATE_FREQUENCY))
    raw_frequency = value(portal_fields.UPDATE_FREQUENCY)
    category_class, level = portal_fields.classification(value(portal_fields.CLASSIFICATION),
                                                         value(portal_fields.SECURITY_LEVEL))
    license_id = portal_fields.license_id(description.license_id, description.license_name)

    source_system = value(portal_fields.SOURCE_SYSTEM) or (profile.source_system if profile else None)
    data: dict[str, Any] = {
        "id": dataset_id,
        "department": people.department,
        "name": description.name,
        "description": description.description.strip() or todo("describe in plain English what a row of this "
                                                                "dataset is (the portal has no description)"),
        "steward": steward,
        "coordinator": people.coordinator,
        "source_system": source_system or todo("the system the data comes from (e.g. the department's database)"),
        "coverage": {
            "start_date": todo("the date the data starts (YYYY-MM-DD)"),
            "end_date": "current",
            "geographic_coverage": todo("the area the data covers (e.g. City of Los Angeles)"),
            "geographic_granularity": todo("the finest place a row names (address, council district, ...)"),
        },
        "update_frequency": frequency.value if frequency else todo(
            "how often the data is refreshed: hourly, daily, weekly, biweekly, monthly, quarterly, semiannually, "
            "annually, irregular or historical" + (f" (the portal says {raw_frequency!r})" if raw_frequency else "")),
        "collection_frequency": todo("how often the source collects the data (same words as update_frequency)"),
        "existing_publication": {"published": True, "link": portal_page},
        "priority": {"level": todo("high, medium or low")},
        "classification": {
            "category": category_class.value if category_class else todo("public, protected or sensitive (public on "
                                                                         "the portal: usually public)"),
            "level": level if level is not None else todo("1 or 2 (public on the portal: usually 1)"),
        },
        "data_quality": {"rating": todo("high, medium or low")},
        "publishing": _publishing(description, people, license_id),
    }
    if frequency is None and raw_frequency:
        comments[("update_frequency",)] = f"The portal's Update Frequency: {raw_frequency}"
    if description.license_id or description.license_name:
        if license_id is None:
            comments[("publishing", "license")] = (f"The portal's license ({description.license_name or ''} "
                                                   f"{description.license_id or ''}) is not one this project knows.")
    comparison = None
    mismatch: tuple[str, ...] = ()
    file_types = {c.field_name: kind for c in description.columns if (kind := file_type(c.data_type)) is not None}
    if profile is not None:
        data["source"] = dict(profile.source)
        comparison = compare_source(profile, description.columns, file_types)
        portal_types = {c.field_name: c.data_type or "?" for c in description.columns}
        mismatch = tuple(comparison.report(portal_types))
        if mismatch:
            comments[("source",)] = "Compared with the portal's columns when adopted:\n" + "\n".join(mismatch)
    else:
        data["source"] = todo("where the data comes from: {kind: sql, conn_id, query_file}, {kind: file, path} or "
                              "{kind: http, conn_id, url, format, records_path} (see README, Add a dataset)")
    data["columns"] = _columns(description, file_types, comparison, comments)
    todos = tuple(_todo_paths(data))
    return Draft(data, comments, todos, comparison, mismatch)


def _publishing(description: PortalDescription, people: DepartmentPeople, license_id: str | None) -> dict[str, Any]:
    tags = list(dict.fromkeys(t.strip().lower() for t in description.tags if t.strip()))
    publishing: dict[str, Any] = {
        "category": description.category or todo("the portal's category (the portal has none)"),
        "tags": tags or [todo("at least one tag")],
        "license": license_id or todo("a license id: " + ", ".join(sorted(LICENSES))),
        "attribution": description.attribution or todo(f"who publishes it (e.g. City of Los Angeles, "
                                                       f"{people.department_name})"),
    }
    if description.attribution_link:
        publishing["attribution_link"] = description.attribution_link
    publishing["contact"] = people.contact()
    if description.row_identifier:
        publishing["row_identifier"] = description.row_identifier
    return publishing


def _columns(description: PortalDescription, file_types: dict[str, Any], comparison: SourceComparison | None,
             comments: Comments) -> list[dict[str, Any]]:
    matches = {m.field_name: m for m in comparison.matches} if comparison else {}
    out = []
    for index, column in enumerate(description.columns):
        entry: dict[str, Any] = {
            "field_name": column.field_name,
            "display_name": (column.name or column.field_name).strip() or column.field_name,
            "type": file_types[column.field_name].value,
            "description": (column.description or "").strip() or todo(
                f"what {column.name or column.field_name} holds, in plain English (the portal has no description)"),
        }
        match = matches.get(column.field_name)
        if match is not None:
            if match.source is None:
                entry["source_column"] = todo(f"the source has no column {column.field_name}: name the source column "
                                              f"that holds it, or add it to the source")
            elif match.incompatible:
                entry["source_column"] = todo(
                    f"{match.source.name} is {match.source.source_type} in the source, {column.data_type} on the "
                    f"portal: convert it in the source (then write {match.source.name} here), or change the "
                    f"portal's column type")
                comments[("columns", index)] = f"Type mismatch: {column.data_type} on the portal, " \
                                               f"{match.source.source_type} ({match.source.kind}) in the source."
            elif match.source.name != column.field_name:
                entry["source_column"] = match.source.name
        out.append(entry)
    return out


def _todo_paths(data: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if is_todo(data):
        found.append((path, str(data)))
    elif isinstance(data, dict):
        for key, child in data.items():
            found += _todo_paths(child, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, child in enumerate(data):
            found += _todo_paths(child, f"{path}[{index}]")
    return found
