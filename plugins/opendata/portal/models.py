"""Typed inputs and results of the Socrata hook, with pure parsers from portal JSON.

Parsers (``from_json`` class methods and module functions) do no I/O so they are unit-tested
against the response shapes recorded in ``docs/socrata-api.md``.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opendata.portal.errors import SocrataUnexpectedResponse

# ---------------------------------------------------------------------------------------------
# small parsing helpers
# ---------------------------------------------------------------------------------------------


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Epoch seconds (view JSON) or ISO-8601 (Metadata/Discovery APIs) to an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return dt.datetime.fromtimestamp(int(text), tz=dt.UTC)
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    return None


def as_mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one (for optional nested objects)."""
    return value if isinstance(value, Mapping) else {}


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _require_mapping(payload: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise SocrataUnexpectedResponse(f"Expected a JSON object for {what}, got {type(payload).__name__}")
    return payload


# ---------------------------------------------------------------------------------------------
# enums
# ---------------------------------------------------------------------------------------------


class Audience(enum.StrEnum):
    """Who can see an asset."""

    PRIVATE = "private"
    SITE = "site"  # "internal": everyone signed in to the domain
    PUBLIC = "public"

    @classmethod
    def parse(cls, value: Any) -> Audience | None:
        if value is None:
            return None
        text = str(value).strip().lower()
        aliases = {"internal": "site", "public.read": "public", "anonymous": "public"}
        text = aliases.get(text, text)
        try:
            return cls(text)
        except ValueError:
            return None


class ApprovalState(enum.StrEnum):
    """``currentState`` of the approvals guidance for one audience."""

    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    SUBMITTABLE = "submittable"
    UNSUBMITTABLE = "unsubmittable"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: Any) -> ApprovalState:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return cls.UNKNOWN


class PublicationStage(enum.StrEnum):
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: Any) -> PublicationStage:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return cls.UNKNOWN


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------

#: Socrata data types accepted at create time (``calendar_date`` is the legacy name of
#: ``floating_timestamp`` in ``/api/views``).
DATA_TYPES = frozenset(
    {
        "text",
        "number",
        "checkbox",
        "calendar_date",
        "floating_timestamp",
        "date",
        "fixed_timestamp",
        "point",
        "multipoint",
        "line",
        "multiline",
        "polygon",
        "multipolygon",
        "location",
        "url",
    }
)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a new dataset.

    :param field_name: API field name (lowercase, ``[a-z0-9_]``).
    :param name: display name.
    :param data_type: Socrata ``dataTypeName`` (``text``, ``number``, ``calendar_date``, …).
    :param description: column description.
    """

    field_name: str
    name: str
    data_type: str = "text"
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.field_name or not self.field_name.replace("_", "").isalnum():
            raise ValueError(f"Invalid Socrata field name {self.field_name!r}")
        if self.field_name != self.field_name.lower():
            raise ValueError(f"Socrata field names are lowercase: {self.field_name!r}")
        if self.data_type not in DATA_TYPES:
            raise ValueError(f"Unknown Socrata data type {self.data_type!r}")

    def to_view_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fieldName": self.field_name,
            "name": self.name,
            "dataTypeName": self.data_type,
        }
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def coerce(cls, value: ColumnSpec | Mapping[str, Any]) -> ColumnSpec:
        if isinstance(value, ColumnSpec):
            return value
        field_name = value.get("field_name") or value.get("fieldName")
        if not isinstance(field_name, str):
            raise ValueError(f"Invalid Socrata field name {field_name!r}")
        return cls(
            field_name=field_name,
            name=value.get("name") or field_name,
            data_type=value.get("data_type") or value.get("dataTypeName") or "text",
            description=value.get("description"),
        )


@dataclass(frozen=True)
class DatasetMetadata:
    """Descriptive metadata, convertible to the legacy view JSON and to the Metadata API.

    ``None`` means "leave unchanged" in a Metadata API patch. ``custom_fields`` is
    ``{"<fieldset>": {"<field>": "<value>"}}``; a ``None`` value clears that field.

    :param license: license *name* as the Metadata API takes it (e.g. ``"Public Domain"``).
    :param license_id: legacy license id for ``/api/views`` (e.g. ``"CC0_10"``), used at create.
    """

    name: str | None = None
    description: str | None = None
    category: str | None = None
    tags: tuple[str, ...] | None = None
    license: str | None = None
    license_id: str | None = None
    attribution: str | None = None
    attribution_link: str | None = None
    custom_fields: Mapping[str, Mapping[str, Any]] | None = None

    def to_metadata_api(self) -> dict[str, Any]:
        """Body for ``PATCH /api/views/metadata/v1/{id}`` (only the fields that are set)."""
        out: dict[str, Any] = {}
        for attr, key in (
            ("name", "name"),
            ("description", "description"),
            ("category", "category"),
            ("license", "license"),
            ("attribution", "attribution"),
            ("attribution_link", "attributionLink"),
        ):
            value = getattr(self, attr)
            if value is not None:
                out[key] = value
        if self.tags is not None:
            out["tags"] = list(self.tags)
        if self.custom_fields is not None:
            out["customFields"] = {
                k: dict(v) if v is not None else None for k, v in self.custom_fields.items()
            }
        return out

    def to_view_json(self) -> dict[str, Any]:
        """Top-level keys for the legacy ``POST /api/views.json`` body (without ``metadata``)."""
        out: dict[str, Any] = {}
        for attr, key in (
            ("name", "name"),
            ("description", "description"),
            ("category", "category"),
            ("attribution", "attribution"),
            ("attribution_link", "attributionLink"),
            ("license_id", "licenseId"),
        ):
            value = getattr(self, attr)
            if value is not None:
                out[key] = value
        if self.license is not None:
            out["license"] = {"name": self.license}
        if self.tags is not None:
            out["tags"] = list(self.tags)
        return out


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


class SodaCounts:
    """What a load did, under the keys SODA's upsert report uses (an upsert and a revision
    replace report the same four counts)."""

    rows_created: int
    rows_updated: int
    rows_deleted: int
    errors: int

    def as_report(self) -> dict[str, int]:
        return {
            "Rows Created": self.rows_created,
            "Rows Updated": self.rows_updated,
            "Rows Deleted": self.rows_deleted,
            "Errors": self.errors,
        }


@dataclass
class UpsertResult(SodaCounts):
    """Summed SODA upsert report over every chunk."""

    rows_created: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    errors: int = 0
    rows_sent: int = 0
    requests: int = 0

    @classmethod
    def from_json(cls, payload: Any, rows_sent: int = 0) -> UpsertResult:
        report = _require_mapping(payload, "upsert report")

        def count(key: str) -> int:
            return _int_or_none(report.get(key)) or 0

        return cls(
            rows_created=count("Rows Created"),
            rows_updated=count("Rows Updated"),
            rows_deleted=count("Rows Deleted"),
            errors=count("Errors"),
            rows_sent=rows_sent,
            requests=1,
        )

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            rows_created=self.rows_created + other.rows_created,
            rows_updated=self.rows_updated + other.rows_updated,
            rows_deleted=self.rows_deleted + other.rows_deleted,
            errors=self.errors + other.errors,
            rows_sent=self.rows_sent + other.rows_sent,
            requests=self.requests + other.requests,
        )



@dataclass(frozen=True)
class ColumnInfo:
    field_name: str
    name: str | None
    data_type: str | None
    description: str | None
    id: int | None


def audience_from_grants(grants: Any) -> Audience:
    """``grants[].flags`` containing ``"public"`` means public; otherwise private."""
    if isinstance(grants, list):
        for grant in grants:
            if isinstance(grant, Mapping):
                flags = grant.get("flags") or []
                if isinstance(flags, list) and "public" in flags:
                    return Audience.PUBLIC
    return Audience.PRIVATE


@dataclass(frozen=True)
class ViewMetadata:
    """Selected fields of ``GET /api/views/{id}.json``; the full payload is in ``raw``."""

    id: str
    name: str | None
    publication_stage: PublicationStage
    audience: Audience
    row_identifier_column_id: int | None
    row_identifier_field: str | None
    columns: tuple[ColumnInfo, ...]
    rows_updated_at: dt.datetime | None
    view_last_modified: dt.datetime | None
    created_at: dt.datetime | None
    number_of_comments: int | None
    approvals: tuple[Mapping[str, Any], ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def is_published(self) -> bool:
        return self.publication_stage is PublicationStage.PUBLISHED

    @property
    def is_public(self) -> bool:
        return self.audience is Audience.PUBLIC

    @classmethod
    def from_json(cls, payload: Any) -> ViewMetadata:
        view = _require_mapping(payload, "view metadata")
        if not view.get("id"):
            raise SocrataUnexpectedResponse("View metadata has no id")
        columns = []
        for col in view.get("columns") or []:
            if isinstance(col, Mapping) and col.get("fieldName"):
                columns.append(
                    ColumnInfo(
                        field_name=str(col["fieldName"]),
                        name=col.get("name"),
                        data_type=col.get("dataTypeName"),
                        description=col.get("description"),
                        id=_int_or_none(col.get("id")),
                    )
                )
        rid_col = _int_or_none(view.get("rowIdentifierColumnId"))
        meta = as_mapping(view.get("metadata"))
        rid_meta = meta.get("rowIdentifier")
        if rid_col is None:
            rid_col = _int_or_none(rid_meta)
        rid_field = None
        if rid_col is not None:
            rid_field = next((c.field_name for c in columns if c.id == rid_col), None)
        elif isinstance(rid_meta, str) and rid_meta:
            rid_field = rid_meta
        approvals = tuple(a for a in (view.get("approvals") or []) if isinstance(a, Mapping))
        return cls(
            id=str(view["id"]),
            name=view.get("name"),
            publication_stage=PublicationStage.parse(view.get("publicationStage")),
            audience=audience_from_grants(view.get("grants")),
            row_identifier_column_id=rid_col,
            row_identifier_field=rid_field,
            columns=tuple(columns),
            rows_updated_at=parse_timestamp(view.get("rowsUpdatedAt")),
            view_last_modified=parse_timestamp(view.get("viewLastModified")),
            created_at=parse_timestamp(view.get("createdAt")),
            number_of_comments=_int_or_none(view.get("numberOfComments")),
            approvals=approvals,
            raw=view,
        )

    @property
    def has_row_identifier(self) -> bool:
        return self.row_identifier_column_id is not None or self.row_identifier_field is not None


def hidden_from_catalog(view: ViewMetadata) -> bool:
    """``hideFromCatalog`` of the view JSON (a recorded top-level key); only Socrata staff can
    change it (Metadata API docs), so the pipeline reports it and never tries to."""
    return bool(view.raw.get("hideFromCatalog"))


@dataclass(frozen=True)
class Visibility:
    """The four things that decide whether anonymous visitors see an asset (Discovery API,
    "Asset Visibility"): published, audience public, approved, not hidden."""

    dataset_id: str
    published: bool
    audience: Audience
    approval: ApprovalState
    hidden: bool

    @property
    def problems(self) -> list[str]:
        """What keeps the asset from the public, in words a coordinator can act on (pure)."""
        out = []
        if not self.published:
            out.append("it is not published (a draft is invisible to the public whatever its audience)")
        if self.audience is not Audience.PUBLIC:
            out.append(f"its audience is {self.audience.value}, not public")
        if self.approval is not ApprovalState.APPROVED:
            out.append(f"its public approval is {self.approval.value}, not approved")
        if self.hidden:
            out.append("it is hidden from the catalog (only Socrata support can unhide it)")
        return out

    @property
    def visible_to_anonymous(self) -> bool:
        return not self.problems


def discovery_key(name: str) -> str:
    """A fieldset or field name in Discovery's custom-metadata parameter form
    (``set-Name_key-name``): spaces become hyphens."""
    return re.sub(r"\s+", "-", name.strip())


@dataclass(frozen=True)
class DatasetMarker:
    """A custom field that says which dataset file an asset belongs to, written when the asset is
    created. A retry after a lost answer finds the asset by it instead of creating a second one."""

    fieldset: str
    field: str
    value: str

    def catalog_param(self) -> tuple[str, str]:
        """The Discovery API's custom-metadata search for this marker."""
        return f"{discovery_key(self.fieldset)}_{discovery_key(self.field)}", self.value

    def custom_fields(self) -> dict[str, dict[str, str]]:
        return {self.fieldset: {self.field: self.value}}

    def matches(self, view: ViewMetadata) -> bool:
        """True when the view's ``metadata.custom_fields`` carries this marker (recorded shape)."""
        meta = view.raw.get("metadata")
        custom = meta.get("custom_fields") if isinstance(meta, Mapping) else None
        fields = custom.get(self.fieldset) if isinstance(custom, Mapping) else None
        return isinstance(fields, Mapping) and str(fields.get(self.field) or "") == self.value


@dataclass(frozen=True)
class AssetMetadata:
    """``GET /api/views/metadata/v1/{id}`` (Metadata API v1); the full payload is in ``raw``."""

    id: str
    name: str | None
    description: str | None
    category: str | None
    tags: tuple[str, ...]
    license: str | None
    attribution: str | None
    attribution_link: str | None
    custom_fields: Mapping[str, Any]
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    data_updated_at: dt.datetime | None
    metadata_updated_at: dt.datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, payload: Any) -> AssetMetadata:
        data = _require_mapping(payload, "Metadata API response")
        if not data.get("id"):
            raise SocrataUnexpectedResponse("Metadata API response has no id")
        tags = data.get("tags") or []
        custom = data.get("customFields")
        return cls(
            id=str(data["id"]),
            name=data.get("name"),
            description=data.get("description"),
            category=data.get("category"),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            license=data.get("license"),
            attribution=data.get("attribution"),
            attribution_link=data.get("attributionLink"),
            custom_fields=custom if isinstance(custom, Mapping) else {},
            created_at=parse_timestamp(data.get("createdAt")),
            updated_at=parse_timestamp(data.get("updatedAt")),
            data_updated_at=parse_timestamp(data.get("dataUpdatedAt")),
            metadata_updated_at=parse_timestamp(data.get("metadataUpdatedAt")),
            raw=data,
        )


@dataclass(frozen=True)
class AssetFreshness:
    """Per-asset timestamps for the freshness monitor."""

    id: str
    name: str | None
    data_updated_at: dt.datetime | None
    metadata_updated_at: dt.datetime | None
    audience: Audience | None
    number_of_comments: int | None = None
    published: bool | None = None


def freshness_from_catalog_result(result: Any) -> AssetFreshness | None:
    """One ``results[]`` item of the Discovery API, read from its documented fields only:
    ``resource.{id, name, data_updated_at, metadata_updated_at}`` and, with
    ``show_visibility=true``, ``metadata.{is_public, is_published, visible_to_site}`` (the
    audience; without them it stays unknown). Discovery carries no comment count (the view JSON
    does)."""
    if not isinstance(result, Mapping):
        return None
    resource = result.get("resource")
    if not isinstance(resource, Mapping) or not resource.get("id"):
        return None
    meta = as_mapping(result.get("metadata"))
    audience = None
    if "is_public" in meta:
        if meta.get("is_public"):
            audience = Audience.PUBLIC
        elif meta.get("visible_to_site"):
            audience = Audience.SITE
        else:
            audience = Audience.PRIVATE
    published = meta.get("is_published")
    return AssetFreshness(
        id=str(resource["id"]),
        name=resource.get("name"),
        data_updated_at=parse_timestamp(resource.get("data_updated_at")),
        metadata_updated_at=parse_timestamp(resource.get("metadata_updated_at")),
        audience=audience,
        published=bool(published) if published is not None else None,
    )


def parse_catalog_page(payload: Any) -> tuple[list[AssetFreshness], int | None]:
    """``(items, resultSetSize)`` from one Discovery API page."""
    data = _require_mapping(payload, "Discovery API response")
    results = data.get("results")
    if not isinstance(results, list):
        raise SocrataUnexpectedResponse("Discovery API response has no results list")
    items = [item for item in (freshness_from_catalog_result(r) for r in results) if item is not None]
    return items, _int_or_none(data.get("resultSetSize"))


def audience_from_permissions(payload: Any) -> Audience:
    """``scope`` of ``GET /api/views/{id}/permissions``."""
    data = _require_mapping(payload, "permissions")
    audience = Audience.parse(data.get("scope"))
    if audience is None:
        raise SocrataUnexpectedResponse(f"Unknown permissions scope {data.get('scope')!r}")
    return audience


def chunked(values: Iterable[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
