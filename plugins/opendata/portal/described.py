"""What the portal says about an existing dataset, and which datasets its catalog lists (pure).

``opendata adopt`` takes over a dataset that is already public on the portal: it needs the
dataset's description as the portal holds it, read from documented fields only (docs/socrata-api.md
§2.5 and the recordings in tests/contract/): the view JSON's ``name, description, category, tags,
licenseId, license.name, attribution, attributionLink, hideFromCatalog, publicationStage,
publicationDate, grants, columns[{fieldName, name, dataTypeName, description}],
rowIdentifierColumnId`` and ``metadata.{rowIdentifier, custom_fields}``; and, for a batch, the
Discovery API's ``results[].{resource.{id, name}, classification.domain_category, owner.{id,
display_name}, permalink}`` with ``resultSetSize``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opendata.portal.errors import SocrataUnexpectedResponse
from opendata.portal.models import (
    Audience,
    ColumnInfo,
    ViewMetadata,
    as_mapping,
    hidden_from_catalog,
    parse_timestamp,
)


@dataclass(frozen=True)
class PortalDescription:
    """A dataset as the portal describes it (view JSON), for taking it over."""

    id: str
    name: str
    description: str
    category: str | None
    tags: tuple[str, ...]
    #: ``licenseId`` (legacy id, e.g. ``CC0_10``) when the view has one.
    license_id: str | None
    #: ``license.name`` (the name the Metadata API uses) when the view has one.
    license_name: str | None
    attribution: str | None
    attribution_link: str | None
    columns: tuple[ColumnInfo, ...]
    row_identifier: str | None
    #: ``metadata.custom_fields``: ``{fieldset: {field: value}}``, values as text.
    custom_fields: Mapping[str, Mapping[str, str]]
    published: bool
    audience: Audience
    hidden: bool
    public_since: dt.datetime | None

    @property
    def public_and_published(self) -> bool:
        return self.published and self.audience is Audience.PUBLIC

    def custom_value(self, fieldset: str, field: str) -> str | None:
        """A custom field's value (None when absent or blank)."""
        value = (self.custom_fields.get(fieldset) or {}).get(field)
        return value if value else None

    @classmethod
    def from_view(cls, view: ViewMetadata) -> PortalDescription:
        raw = view.raw
        meta = as_mapping(raw.get("metadata"))
        custom: dict[str, dict[str, str]] = {}
        for fieldset, fields in as_mapping(meta.get("custom_fields")).items():
            values = {str(k): _text(v) for k, v in as_mapping(fields).items() if v is not None}
            custom[str(fieldset)] = values
        tags = raw.get("tags")
        license_ = as_mapping(raw.get("license"))
        return cls(
            id=view.id,
            name=str(raw.get("name") or view.id),
            description=_text(raw.get("description")),
            category=_optional_text(raw.get("category")),
            tags=tuple(str(t) for t in tags if t) if isinstance(tags, list) else (),
            license_id=_optional_text(raw.get("licenseId")),
            license_name=_optional_text(license_.get("name")),
            attribution=_optional_text(raw.get("attribution")),
            attribution_link=_optional_text(raw.get("attributionLink")),
            columns=tuple(c for c in view.columns if not c.field_name.startswith(":")),
            row_identifier=view.row_identifier_field,
            custom_fields=custom,
            published=view.is_published,
            audience=view.audience,
            hidden=hidden_from_catalog(view),
            public_since=parse_timestamp(raw.get("publicationDate")),
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _optional_text(value: Any) -> str | None:
    text = _text(value).strip()
    return text or None


@dataclass(frozen=True)
class CatalogAsset:
    """One dataset the Discovery API lists."""

    id: str
    name: str | None
    category: str | None
    owner_id: str | None
    owner_name: str | None
    permalink: str | None


def catalog_asset(result: Any) -> CatalogAsset | None:
    """One ``results[]`` item (None when it has no ``resource.id``)."""
    if not isinstance(result, Mapping):
        return None
    resource = as_mapping(result.get("resource"))
    asset_id = resource.get("id")
    if not asset_id:
        return None
    classification = as_mapping(result.get("classification"))
    owner = as_mapping(result.get("owner"))
    return CatalogAsset(
        id=str(asset_id),
        name=_optional_text(resource.get("name")),
        category=_optional_text(classification.get("domain_category")),
        owner_id=_optional_text(owner.get("id")),
        owner_name=_optional_text(owner.get("display_name")),
        permalink=_optional_text(result.get("permalink")),
    )


def parse_catalog_assets(payload: Any) -> tuple[list[CatalogAsset], int, int | None]:
    """``(assets, results on the page, resultSetSize)`` of one Discovery API page."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("results"), list):
        raise SocrataUnexpectedResponse("Discovery API response has no results list")
    results = payload["results"]
    assets = [asset for asset in (catalog_asset(r) for r in results) if asset is not None]
    total = payload.get("resultSetSize")
    return assets, len(results), total if isinstance(total, int) and not isinstance(total, bool) else None
