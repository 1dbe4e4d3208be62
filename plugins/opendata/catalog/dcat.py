"""The published inventory as a DCAT-US 1.1 (Project Open Data) ``data.json`` document (pure).

:func:`build_data_json` turns dataset files and the registry's facts about them into the
catalog a harvester (data.gov, a state portal, a search engine) reads; :func:`render_data_json`
encodes it. No I/O here: reading the files and the registry and writing the file is
:mod:`opendata.catalog.writer`.

Which datasets are listed
-------------------------
Only datasets published on the portal: the registry records them at ``stage-2``,
``refreshing`` or ``retired`` (a retired dataset stays published with the Mayor's Office's
approval; only its refreshes stop) and knows when they went public or were last refreshed. Each
is listed with ``accessLevel: public`` (they are public on the portal, whatever their
classification level: a level 2 dataset is published only with its recorded approval).

Datasets not yet public (``not-ready``, Stage 1, ``rejected``, ``scheduled``) are **left out**,
not listed as ``non-public`` or ``restricted public``:

* DCAT-US separates the agency's internal *enterprise data inventory* from the *public data
  listing* that ``data.json`` is: ``accessLevel`` exists so "an agency can run a basic filter
  against its enterprise data catalog to generate a public-facing list" (v1.1 ``schema.md``,
  *Rationale for Metadata Nomenclature*). The city's inventory is the dataset files themselves
  (``opendata lint``, the DAG list); the playbook keeps it for "approved staff" (Phase 2:
  Inventory).
* Playbook Step 3, strategic publication: the Chief Data Officer and the Mayor's
  Communications and Policy teams decide when and how a dataset is announced. A title and a
  description in a public, harvested file before that moment pre-empt the announcement.
* Before the Chief Data Officer's review a dataset may still be refused (Step 1 or Stage 1) or
  be level 2 data, "likely to attract media attention" or under pending legislation (appendix,
  Security Considerations): its existence can be the sensitive part.
* ``non-public`` means the data "could never be made available to the public", which a dataset
  on its way to publication is not; ``public`` without a distribution (the federal "could be
  made public" pattern) would announce it. Neither describes "not yet", so nothing is said.

A listed dataset whose registry row has neither ``public_at`` nor ``last_refresh_at`` is left
out as well (nothing says since when it is public; the writer reports it).

Field mapping (DCAT-US 1.1 field <- source)
-------------------------------------------
========================  ==============================================================
title                     ``name``
description               ``description``
keyword                   ``publishing.tags`` (the portal's tags)
theme                     ``[publishing.category]`` (the portal's category)
modified                  registry ``last_refresh_at``, else ``public_at`` (UTC, ISO 8601)
issued                    registry ``public_at`` (when present)
publisher                 the department's ``name`` in governance.yaml,
                          ``subOrganizationOf`` the city (``city_name``)
contactPoint              ``publishing.contact`` (fn, ``mailto:`` hasEmail); an address the
                          DCAT-US pattern refuses falls back to ``steward``, then the Chief
                          Data Officer in governance.yaml
identifier                ``https://{domain}/api/views/{4x4}`` (Socrata's own data.json id)
accessLevel               ``public`` (see above)
license                   ``publishing.license`` -> its URL (:data:`LICENSE_URLS`); omitted
                          for ``SEE_TERMS_OF_USE``
spatial                   ``coverage.geographic_coverage`` (a named place)
temporal                  ``coverage.start_date/end_date``; ``end_date: current`` -> the
                          date of ``modified``
accrualPeriodicity        ``update_frequency`` (R/PT1H ... R/P1Y, ``irregular``); omitted
                          for ``historical`` data and retired datasets
distribution              CSV export ``https://{domain}/api/views/{4x4}/rows.csv?accessType=
                          DOWNLOAD`` (downloadURL, text/csv) and the SODA API
                          ``https://{domain}/resource/{4x4}.json`` (accessURL,
                          application/json: an API pages its rows, it is not a file)
landingPage               ``https://{domain}/d/{4x4}``
describedBy               ``https://{domain}/api/views/{4x4}/columns.json`` (the data
                          dictionary the portal serves; ``describedByType`` application/json)
language                  ``language`` argument (the dataset file has none)
bureauCode, programCode   omitted: federal fields (``schema.md``: "should not be seen as
                          required" for non-federal publishers); Socrata leaves them out too
========================  ==============================================================

Conventions taken from Socrata's own ``data.json`` (entries harvested by catalog.data.gov from
data.wa.gov and data.cityofnewyork.us): ``identifier`` as ``/api/views/{4x4}``, ``landingPage``
as ``/d/{4x4}``, the ``rows.csv?accessType=DOWNLOAD`` export with ``text/csv``, ``columns.json``
as the data dictionary, tags as ``keyword``, the category as ``theme``, ``@type`` on every
object, and no ``bureauCode``/``programCode``. Keeping Socrata's identifier means a harvester that
read the portal's own ``data.json`` sees the same datasets, not new ones.

Hostile input
-------------
Every text of a dataset file is the department's: it goes into the document unchanged, as a
JSON string value (``json`` does the escaping; nothing is templated). Every URL is built from a
portal id that must be a Socrata 4x4 and the configured domain, never from a URL in the file.
Nothing about the source (connection ids, queries, file paths, source URLs) is read at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opendata.registry.stages import Stage
from opendata.registry.store import stored_instant
from opendata.spec.base import Contact
from opendata.spec.dataset import DatasetSpec
from opendata.spec.governance import Governance
from opendata.spec.vocab import UpdateFrequency

if TYPE_CHECKING:  # the registry's tables (SQLAlchemy) are not needed to build a document
    from opendata.registry.store import DatasetState

log = logging.getLogger(__name__)

#: ``conformsTo`` of a DCAT-US 1.1 catalog (the only value the schema accepts).
CONFORMS_TO = "https://project-open-data.cio.gov/v1.1/schema"
#: The JSON Schema and JSON-LD context the catalog declares (``describedBy``, ``@context``).
SCHEMA_URL = "https://project-open-data.cio.gov/v1.1/schema/catalog.json"
CONTEXT_URL = "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld"

#: The dataset file's license ids (``opendata.spec.vocab.LICENSES``) as the URLs DCAT-US asks
#: for (https://project-open-data.cio.gov/open-licenses/). ``SEE_TERMS_OF_USE`` has none: the
#: field is left out.
LICENSE_URLS: dict[str, str] = {
    "PUBLIC_DOMAIN": "https://creativecommons.org/publicdomain/mark/1.0/",
    "CC0_10": "https://creativecommons.org/publicdomain/zero/1.0/",
    "PDDL": "http://opendatacommons.org/licenses/pddl/1.0/",
    "CC_30_BY": "https://creativecommons.org/licenses/by/3.0/",
    "CC_40_BY": "https://creativecommons.org/licenses/by/4.0/",
    "ODC_BY": "http://opendatacommons.org/licenses/by/1.0/",
    "USGOV_WORKS": "http://www.usa.gov/publicdomain/label/1.0/",
}

# Stages at which the data is on the portal for everyone (retired: published, no more refreshes).
LISTED_STAGES = frozenset({Stage.STAGE_2, Stage.REFRESHING, Stage.RETIRED})

_PORTAL_ID = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::(?P<port>[0-9]{{1,5}}))?")
# DCAT-US 1.1 vcard.json ``hasEmail``, with ``\w`` read as ASCII (as every validator reads it).
_HAS_EMAIL = re.compile(r"mailto:[\w\_\~\!\$\&\'\(\)\*\+\,\;\=\:.-]+@[\w.-]+\.[\w.-]+?", re.ASCII)
# RFC 5646 language tags, the common shapes (en, en-US, es-419, zh-Hant-TW).
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class PublishedEntry:
    """One dataset file and what the registry knows of its publication."""

    spec: DatasetSpec
    #: The dataset's Socrata id (4x4). Refused unless it is one: every URL is built from it.
    portal_id: str
    stage: Stage
    public_at: dt.datetime | None = None
    last_refresh_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.portal_id, str) or not _PORTAL_ID.fullmatch(self.portal_id):
            raise ValueError(f"{self.spec.id}: not a Socrata 4x4 dataset id: {self.portal_id!r}")

    @classmethod
    def from_state(cls, spec: DatasetSpec, state: DatasetState) -> PublishedEntry:
        """The entry of ``spec`` with its registry row; ValueError when the row is another
        dataset's or has no valid portal id (the dataset was never created on the portal)."""
        if state.dataset_id != spec.id:
            raise ValueError(f"registry row {state.dataset_id!r} is not dataset {spec.id!r}")
        if state.portal_id is None:
            raise ValueError(f"{spec.id}: no portal id recorded")
        return cls(spec=spec, portal_id=state.portal_id, stage=state.stage, public_at=state.public_at,
                   last_refresh_at=state.last_refresh_at)

    @property
    def modified(self) -> dt.datetime | None:
        """The last time the portal confirmed new data: the last refresh, else going public."""
        return self.last_refresh_at or self.public_at

    @property
    def listed(self) -> bool:
        """Published on the portal, since a known time (see the module docstring)."""
        return self.stage in LISTED_STAGES and self.modified is not None


@dataclass(frozen=True)
class PortalUrls:
    """Every URL of a dataset on the portal: the configured domain and a 4x4, nothing else."""

    domain: str
    scheme: str = "https"

    def __post_init__(self) -> None:
        if self.scheme not in ("https", "http"):
            raise ValueError(f"portal scheme must be https or http, not {self.scheme!r}")
        match = _DOMAIN.fullmatch(self.domain) if isinstance(self.domain, str) else None
        if match is None or len(self.domain) > 253 or int(match.group("port") or 1) not in range(1, 65536):
            raise ValueError(f"portal domain must be a host name with an optional port (data.lacity.org), "
                             f"lower case, without scheme or path: {self.domain!r}")

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.domain}"

    def _checked(self, portal_id: str) -> str:
        if not _PORTAL_ID.fullmatch(portal_id):
            raise ValueError(f"not a Socrata 4x4 dataset id: {portal_id!r}")
        return portal_id

    def identifier(self, portal_id: str) -> str:
        return f"{self.base}/api/views/{self._checked(portal_id)}"

    def landing_page(self, portal_id: str) -> str:
        return f"{self.base}/d/{self._checked(portal_id)}"

    def csv_download(self, portal_id: str) -> str:
        return f"{self.base}/api/views/{self._checked(portal_id)}/rows.csv?accessType=DOWNLOAD"

    def soda_api(self, portal_id: str) -> str:
        return f"{self.base}/resource/{self._checked(portal_id)}.json"

    def data_dictionary(self, portal_id: str) -> str:
        return f"{self.base}/api/views/{self._checked(portal_id)}/columns.json"


def accrual_periodicity(frequency: UpdateFrequency) -> str | None:
    """DCAT-US ``accrualPeriodicity`` of an update promise; None (left out) for historical data,
    which is not published again."""
    if frequency is UpdateFrequency.HISTORICAL:
        return None
    return frequency.accrual_periodicity


def iso_datetime(value: dt.datetime) -> str:
    """UTC, to the second, ``Z``-suffixed (a naive time is read as UTC, as the registry stores it)."""
    return stored_instant(value).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_data_json(entries: Iterable[PublishedEntry], *, catalog_url: str, portal_domain: str,
                    governance: Governance, city_name: str, portal_scheme: str = "https",
                    language: Sequence[str] = ()) -> dict[str, Any]:
    """The DCAT-US 1.1 catalog of the listed ``entries`` (see the module docstring), as plain
    JSON values, datasets ordered by dataset id.

    ``catalog_url``: where the document is served (its ``@id``); ``portal_domain``: the portal's
    host (``data.lacity.org``; the Socrata connection's host); ``city_name``: the organisation
    the departments belong to (``publisher.subOrganizationOf``); ``language``: RFC 5646 tags of
    the data (``["en-US"]``), left out when empty. ValueError for a malformed argument.
    """
    _check_catalog_url(catalog_url)
    urls = PortalUrls(portal_domain, portal_scheme)
    languages = list(language)
    for tag in languages:
        if not isinstance(tag, str) or not _LANGUAGE.fullmatch(tag):
            raise ValueError(f"not an RFC 5646 language tag: {tag!r}")
    if not isinstance(city_name, str) or not city_name.strip():
        raise ValueError("city_name must be a non-empty name (the publisher's parent organisation)")
    datasets: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: (e.spec.id, e.portal_id)):
        if not entry.listed:
            continue
        if entry.portal_id in seen:  # one portal dataset, two files: a registry mistake
            log.warning("%s and %s are both recorded as portal dataset %s; %s is not listed",
                        seen[entry.portal_id], entry.spec.id, entry.portal_id, entry.spec.id)
            continue
        seen[entry.portal_id] = entry.spec.id
        datasets.append(dataset_record(entry, urls=urls, governance=governance, city_name=city_name,
                                       language=languages))
    return {
        "@context": CONTEXT_URL,
        "@id": catalog_url,
        "@type": "dcat:Catalog",
        "conformsTo": CONFORMS_TO,
        "describedBy": SCHEMA_URL,
        "dataset": datasets,
    }


def dataset_record(entry: PublishedEntry, *, urls: PortalUrls, governance: Governance, city_name: str,
                   language: Sequence[str] = ()) -> dict[str, Any]:
    """One listed dataset's DCAT-US object (the caller decides that it is listed)."""
    spec = entry.spec
    modified = entry.modified
    if modified is None:
        raise ValueError(f"{spec.id}: no publication or refresh time recorded")
    portal_id = entry.portal_id
    record: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "identifier": urls.identifier(portal_id),
        "title": spec.name,
        "description": spec.description,
        "keyword": list(spec.publishing.tags),
        "theme": [spec.publishing.category],
        "modified": iso_datetime(modified),
        "publisher": _publisher(spec, governance, city_name),
        "contactPoint": _contact_point(spec, governance),
        "accessLevel": "public",
        "landingPage": urls.landing_page(portal_id),
        "describedBy": urls.data_dictionary(portal_id),
        "describedByType": "application/json",
        "distribution": [
            {"@type": "dcat:Distribution", "title": f"{spec.name} (CSV)", "format": "CSV",
             "mediaType": "text/csv", "downloadURL": urls.csv_download(portal_id)},
            {"@type": "dcat:Distribution", "title": f"{spec.name} (SODA API)", "format": "API",
             "mediaType": "application/json", "accessURL": urls.soda_api(portal_id)},
        ],
        "spatial": spec.coverage.geographic_coverage,
        "temporal": _temporal(spec, modified),
    }
    if entry.public_at is not None:
        record["issued"] = iso_datetime(entry.public_at)
    license_url = LICENSE_URLS.get(spec.publishing.license)
    if license_url is not None:
        record["license"] = license_url
    periodicity = None if entry.stage is Stage.RETIRED else accrual_periodicity(spec.update_frequency)
    if periodicity is not None:
        record["accrualPeriodicity"] = periodicity
    if language:
        record["language"] = list(language)
    return record


def render_data_json(document: dict[str, Any]) -> str:
    """The document as served: ASCII JSON in which ``<``, ``>`` and ``&`` are escaped too
    (``\\u003c`` ...), so that no text of a dataset file can close a ``<script>`` element or
    start markup should the document ever be embedded in a page. Decodes to ``document``."""
    text = json.dumps(document, ensure_ascii=True, allow_nan=False, indent=2)
    # Outside strings JSON has none of these characters: replacing them escapes string content only.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def _check_catalog_url(url: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if (parts is None or parts.scheme not in ("https", "http") or not parts.netloc
            or not re.fullmatch(r"[\x21-\x7e]+", url)):
        raise ValueError(f"catalog_url must be the absolute http(s) URL data.json is served at: {url!r}")


def _publisher(spec: DatasetSpec, governance: Governance, city_name: str) -> dict[str, Any]:
    department = governance.departments.get(spec.department)
    return {"@type": "org:Organization", "name": department.name if department else spec.department,
            "subOrganizationOf": {"@type": "org:Organization", "name": city_name}}


def _contact_point(spec: DatasetSpec, governance: Governance) -> dict[str, Any]:
    """The dataset's public contact; one whose address DCAT-US's pattern refuses (an address may
    hold characters a ``mailto:`` must escape) gives way to the steward, then the CDO."""
    cdo = governance.people.get(governance.chief_data_officer)
    candidates: list[Contact] = [spec.publishing.contact, spec.steward] + ([cdo] if cdo is not None else [])
    for contact in candidates:
        address = f"mailto:{contact.email}"
        if _HAS_EMAIL.fullmatch(address):
            return {"@type": "vcard:Contact", "fn": contact.name, "hasEmail": address}
    log.warning("%s: no contact address fits DCAT-US's hasEmail pattern; the public contact is listed as is",
                spec.id)
    return {"@type": "vcard:Contact", "fn": spec.publishing.contact.name,
            "hasEmail": f"mailto:{spec.publishing.contact.email}"}


def _temporal(spec: DatasetSpec, modified: dt.datetime) -> str:
    """Start/end of the coverage; data still being updated ("current") is covered up to its last
    confirmed update (DCAT-US 1.1 has no open-ended interval)."""
    coverage = spec.coverage
    end = coverage.end_date if isinstance(coverage.end_date, dt.date) else stored_instant(modified).date()
    return f"{coverage.start_date.isoformat()}/{max(end, coverage.start_date).isoformat()}"
