"""The DCAT-US 1.1 data.json of the published inventory, checked against the official schema.

The schema files (``dcat_us_1_1/``, see its SOURCE.md) are resolved against each other locally;
``format: uri`` is checked by :func:`_is_uri` (jsonschema checks it only with an optional
package this project does not install).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry as SchemaRegistry
from referencing.jsonschema import DRAFT4

from opendata.catalog import PublishedEntry, build_data_json, render_data_json, write_data_json
from opendata.catalog.dcat import LICENSE_URLS, PortalUrls
from opendata.registry import Registry, Stage
from opendata.spec.dataset import DatasetSpec
from opendata.spec.errors import SpecFileError
from opendata.spec.governance import Governance
from opendata.spec.loader import load_catalog
from opendata.spec.vocab import LICENSES, UpdateFrequency

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "dcat_us_1_1"
SCHEMA_BASE = "https://project-open-data.cio.gov/v1.1/schema/"
REPO_INCLUDE = HERE.parents[2] / "include"
DOMAIN = "data.lacity.example"
CATALOG_URL = "https://opendata.lacity.example/data.json"
CITY = "City of Los Angeles"
T0 = dt.datetime(2026, 3, 2, 17, 30, 5, 123456, tzinfo=dt.UTC)
IDS = {"building-permits": "bp4x-4abc", "restaurant-inspections": "ri4x-4def", "service-requests-311": "sr4x-4ghi"}


# --- the official schema ------------------------------------------------------------------------

def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def _is_uri(value: object) -> bool:
    """RFC 3986 ``URI`` (absolute, only characters a URI may hold, ``%`` starting an escape)."""
    if not isinstance(value, str):
        return True
    return bool(_URI.fullmatch(value)) and not re.search(r"%(?![0-9A-Fa-f]{2})", value)


def validator(*, federal: bool = False) -> Draft4Validator:
    """The catalog schema with its $refs resolved among the shipped files only; ``federal``
    False drops bureauCode and programCode from dataset.json's ``required`` (SOURCE.md)."""
    contents = {name: _schema(name) for name in
                ("catalog.json", "dataset.json", "distribution.json", "organization.json", "vcard.json")}
    if not federal:
        contents["dataset.json"]["required"] = [
            field for field in contents["dataset.json"]["required"] if field not in ("bureauCode", "programCode")]
    registry: SchemaRegistry = SchemaRegistry().with_resources(
        (SCHEMA_BASE + name, DRAFT4.create_resource(schema)) for name, schema in contents.items())
    checker = FormatChecker(formats=())
    checker.checks("uri")(_is_uri)
    assert Draft4Validator.META_SCHEMA["id"].startswith("http://json-schema.org/draft-04/")
    assert contents["catalog.json"]["$schema"] == "http://json-schema.org/draft-04/schema#"
    Draft4Validator.check_schema(contents["catalog.json"])
    return Draft4Validator(contents["catalog.json"], registry=registry, format_checker=checker)


def errors_of(document: dict[str, Any], *, federal: bool = False) -> list[str]:
    found = validator(federal=federal).iter_errors(document)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in found]


def test_the_shipped_schema_files_are_the_cited_copies():
    source = (SCHEMA_DIR / "SOURCE.md").read_text(encoding="utf-8")
    cited = dict(re.findall(r"^\| (\w+\.json) \| `[0-9a-f]{40}` \| `([0-9a-f]{64})` \|$", source, re.MULTILINE))
    shipped = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in SCHEMA_DIR.glob("*.json")}
    assert cited == shipped and len(shipped) == 5


# --- the inputs -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def samples() -> tuple[Governance, dict[str, DatasetSpec]]:
    catalog = load_catalog(REPO_INCLUDE)
    assert catalog.errors == [] and catalog.governance is not None
    return catalog.governance, {loaded.spec.id: loaded.spec for loaded in catalog.datasets}


@pytest.fixture
def governance(samples) -> Governance:
    return samples[0]


@pytest.fixture
def specs(samples) -> dict[str, DatasetSpec]:
    return samples[1]


def entry(spec: DatasetSpec, stage: Stage = Stage.STAGE_2, *, portal_id: str | None = None,
          public_at: dt.datetime | None = T0, last_refresh_at: dt.datetime | None = None) -> PublishedEntry:
    return PublishedEntry(spec=spec, portal_id=portal_id or IDS.get(spec.id, "zzzz-0000"), stage=stage,
                          public_at=public_at, last_refresh_at=last_refresh_at)


def build(entries, governance: Governance, **overrides) -> dict[str, Any]:
    arguments = {"catalog_url": CATALOG_URL, "portal_domain": DOMAIN, "governance": governance,
                 "city_name": CITY, **overrides}
    return build_data_json(entries, **arguments)


def variant(spec: DatasetSpec, **changes: Any) -> DatasetSpec:
    """``spec`` with ``changes`` (sections merge, except ``source``, which is replaced), validated
    as a dataset file would be."""
    data = spec.model_dump(mode="json", exclude_unset=True)
    for key, value in changes.items():
        merge = key != "source" and isinstance(value, dict) and isinstance(data.get(key), dict)
        data[key] = {**data[key], **value} if merge else value
    return DatasetSpec.model_validate(data)


# --- the three sample dataset files --------------------------------------------------------------

def test_the_sample_datasets_make_a_catalog_the_official_schema_accepts(governance, specs):
    entries = [entry(specs["building-permits"]),
               entry(specs["service-requests-311"], Stage.REFRESHING, last_refresh_at=T0 + dt.timedelta(days=30)),
               entry(specs["restaurant-inspections"], Stage.RETIRED)]
    document = build(entries, governance, language=["en-US"])
    assert errors_of(document) == []
    assert [d["title"] for d in document["dataset"]] == [specs[i].name for i in sorted(IDS)]
    assert {k: document[k] for k in ("@context", "@id", "@type", "conformsTo", "describedBy")} == {
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld", "@id": CATALOG_URL,
        "@type": "dcat:Catalog", "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json"}

    permits, inspections, requests = document["dataset"]
    spec = specs["building-permits"]
    assert permits == {
        "@type": "dcat:Dataset",
        "identifier": "https://data.lacity.example/api/views/bp4x-4abc",
        "title": spec.name,
        "description": spec.description,
        "keyword": ["permits", "construction", "buildings"],
        "theme": ["Housing and Real Estate"],
        "modified": "2026-03-02T17:30:05Z",
        "publisher": {"@type": "org:Organization", "name": "Department of Building and Safety",
                      "subOrganizationOf": {"@type": "org:Organization", "name": CITY}},
        "contactPoint": {"@type": "vcard:Contact", "fn": "LADBS Open Data",
                         "hasEmail": "mailto:opendata@ladbs.lacity.example"},
        "accessLevel": "public",
        "landingPage": "https://data.lacity.example/d/bp4x-4abc",
        "describedBy": "https://data.lacity.example/api/views/bp4x-4abc/columns.json",
        "describedByType": "application/json",
        "distribution": [
            {"@type": "dcat:Distribution", "title": f"{spec.name} (CSV)", "format": "CSV", "mediaType": "text/csv",
             "downloadURL": "https://data.lacity.example/api/views/bp4x-4abc/rows.csv?accessType=DOWNLOAD"},
            {"@type": "dcat:Distribution", "title": f"{spec.name} (SODA API)", "format": "API",
             "mediaType": "application/json", "accessURL": "https://data.lacity.example/resource/bp4x-4abc.json"},
        ],
        "spatial": "City of Los Angeles",
        "temporal": "2019-01-01/2026-03-02",  # end_date "current": up to the last confirmed update
        "issued": "2026-03-02T17:30:05Z",
        "license": "https://creativecommons.org/publicdomain/mark/1.0/",
        "accrualPeriodicity": "R/P1D",
        "language": ["en-US"],
    }
    assert requests["modified"] == "2026-04-01T17:30:05Z" and requests["issued"] == "2026-03-02T17:30:05Z"
    assert requests["publisher"]["name"] == "LA Sanitation and Environment"
    assert inspections["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert "accrualPeriodicity" not in inspections  # retired: published, no longer refreshed
    assert json.loads(render_data_json(document)) == document


def test_the_unmodified_schema_asks_for_the_federal_codes_and_nothing_else(governance, specs):
    document = build([entry(spec) for spec in specs.values()], governance)
    federal = errors_of(document, federal=True)
    assert sorted(federal) == sorted(f"dataset/{i}: '{field}' is a required property"
                                     for i in range(3) for field in ("bureauCode", "programCode"))


def broken(document: dict[str, Any], change) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    change(copied, copied["dataset"][0])
    return copied


@pytest.mark.parametrize("change", [
    pytest.param(lambda doc, d: d.pop("title"), id="no title"),
    pytest.param(lambda doc, d: d.update(title=""), id="empty title"),
    pytest.param(lambda doc, d: d.pop("modified"), id="no modified"),
    pytest.param(lambda doc, d: d.update(modified="last tuesday"), id="modified not ISO 8601"),
    pytest.param(lambda doc, d: d.update(accrualPeriodicity="daily"), id="accrualPeriodicity a word"),
    pytest.param(lambda doc, d: d.update(accessLevel="open"), id="unknown accessLevel"),
    pytest.param(lambda doc, d: d["contactPoint"].update(hasEmail="opendata@ladbs.lacity.example"),
                 id="hasEmail without mailto"),
    pytest.param(lambda doc, d: d["publisher"].pop("name"), id="publisher without name"),
    pytest.param(lambda doc, d: d["distribution"][0].pop("mediaType"), id="downloadURL without mediaType"),
    pytest.param(lambda doc, d: d.update(landingPage="not a url"), id="landingPage not a URI"),
    pytest.param(lambda doc, d: d.update(keyword=[]), id="no keyword"),
    pytest.param(lambda doc, d: doc.update(conformsTo="https://example.org/schema"), id="another conformsTo"),
    pytest.param(lambda doc, d: doc.pop("@context"), id="@type without @context"),
])
def test_the_validator_rejects_a_broken_document(governance, specs, change):
    document = build([entry(specs["building-permits"])], governance)
    assert errors_of(document) == []
    assert errors_of(broken(document, change)) != []


# --- which datasets are listed ------------------------------------------------------------------

@pytest.mark.parametrize("stage", list(Stage))
def test_only_datasets_published_on_the_portal_are_listed(governance, specs, stage):
    document = build([entry(specs["building-permits"], stage)], governance)
    listed = stage in (Stage.STAGE_2, Stage.REFRESHING, Stage.RETIRED)
    assert len(document["dataset"]) == (1 if listed else 0)
    assert all(d["accessLevel"] == "public" for d in document["dataset"])
    assert errors_of(document) == []


def test_a_dataset_not_yet_public_leaves_no_trace(governance, specs):
    spec = variant(specs["building-permits"], name="Unannounced: Permits Under Review",
                   description="Not announced before the press release.")
    document = build([entry(spec, Stage.SCHEDULED, portal_id="sch4-0001"), entry(specs["service-requests-311"])],
                     governance)
    text = render_data_json(document)
    assert [d["title"] for d in document["dataset"]] == [specs["service-requests-311"].name]
    assert "Unannounced" not in text and "press release" not in text and "sch4-0001" not in text


def test_a_public_stage_without_a_recorded_time_is_not_listed(governance, specs):
    assert build([entry(specs["building-permits"], Stage.STAGE_2, public_at=None)], governance)["dataset"] == []


def test_a_portal_id_recorded_for_two_datasets_is_listed_once(governance, specs):
    document = build([entry(specs["building-permits"], portal_id="same-0001"),
                      entry(specs["service-requests-311"], portal_id="same-0001")], governance)
    assert [d["title"] for d in document["dataset"]] == [specs["building-permits"].name]


# --- accrualPeriodicity -------------------------------------------------------------------------

PERIODICITY = {
    UpdateFrequency.HOURLY: "R/PT1H", UpdateFrequency.DAILY: "R/P1D", UpdateFrequency.WEEKLY: "R/P1W",
    UpdateFrequency.BIWEEKLY: "R/P2W", UpdateFrequency.MONTHLY: "R/P1M", UpdateFrequency.QUARTERLY: "R/P3M",
    UpdateFrequency.SEMIANNUALLY: "R/P6M", UpdateFrequency.ANNUALLY: "R/P1Y",
    UpdateFrequency.IRREGULAR: "irregular", UpdateFrequency.HISTORICAL: None,
}


def test_the_periodicity_table_names_every_update_frequency():
    assert set(PERIODICITY) == set(UpdateFrequency)


@pytest.mark.parametrize("frequency", list(UpdateFrequency))
def test_accrual_periodicity_of_every_update_frequency(governance, specs, frequency):
    spec = variant(specs["building-permits"], update_frequency=frequency.value, dag={"schedule": "@daily"})
    document = build([entry(spec)], governance)
    assert document["dataset"][0].get("accrualPeriodicity") == PERIODICITY[frequency]
    assert errors_of(document) == []


# --- hostile text ---------------------------------------------------------------------------------

HOSTILE = ('Permits "quoted" \'single\' </script><script>alert(1)</script> {{ config.SECRET }} {% raw %} '
           '${jndi:ldap://x} \\ back\\slash & &amp; <!-- -->\nsecond line\r\n\ttab \u2028\u2029 '
           'é ü 中文 🚧 \u202eRTL\u202c \x00\x1f end')


def test_hostile_text_round_trips_exactly_and_never_breaks_the_document(governance, specs):
    spec = variant(specs["building-permits"], name=HOSTILE, description=HOSTILE,
                   publishing={"category": HOSTILE, "tags": [HOSTILE, "{{ x }}"],
                               "contact": {"name": HOSTILE, "email": "opendata@ladbs.lacity.example"}},
                   coverage={"geographic_coverage": HOSTILE})
    assert spec.name == HOSTILE.strip()  # the model strips the ends only
    document = build([entry(spec)], governance)
    assert errors_of(document) == []
    text = render_data_json(document)
    assert text.isascii()
    assert not re.search(r"[<>&\u2028\u2029]", text)  # cannot close a <script> or start markup
    decoded = json.loads(text)
    assert decoded == document
    record = decoded["dataset"][0]
    assert record["title"] == record["description"] == record["spatial"] == record["contactPoint"]["fn"] == spec.name
    assert record["theme"] == [spec.publishing.category] and record["keyword"] == list(spec.publishing.tags)
    assert record["distribution"][0]["title"] == f"{spec.name} (CSV)"
    # The structure is the generator's whatever the text: the same keys as for a tame file.
    tame = build([entry(specs["building-permits"])], governance)["dataset"][0]
    assert list(record) == list(tame)


# --- nothing secret, no URL from the file ---------------------------------------------------------

SECRETS = ["permits_db_secret", "SELECT", "hunter2", "ledger_schema", "/srv/exports/lasan/secret_extract.csv",
           "secret_extract", "internal-api.lacity.example", "s3cr3t-token", "api_conn_internal",
           "nightly CSV export", "geocoded to 0,0", "Ask Jorge"]


@pytest.mark.parametrize("source", [
    {"kind": "sql", "conn_id": "permits_db_secret",
     "query": "SELECT permit_nbr FROM ledger_schema.permits WHERE token = 'hunter2'"},
    {"kind": "sql", "conn_id": "permits_db_secret", "query_file": "ledger_schema/hunter2.sql"},
    {"kind": "file", "path": "/srv/exports/lasan/secret_extract.csv"},
    {"kind": "http", "url": "https://internal-api.lacity.example/v1/permits?key=s3cr3t-token", "format": "json",
     "params": {"token": "hunter2"}},
    {"kind": "http", "conn_id": "api_conn_internal", "url": "/secret_extract", "format": "csv"},
], ids=["sql query", "sql query file", "file path", "http url", "http connection"])
def test_nothing_about_the_source_reaches_the_document(governance, specs, source):
    spec = variant(specs["building-permits"], source=source, source_system="nightly CSV export of the ledger",
                   technical_challenges="Some rows are geocoded to 0,0.",
                   priority={"level": "high", "comments": "Ask Jorge"})
    assert spec.source.kind == source["kind"]
    text = render_data_json(build([entry(spec)], governance))
    assert [secret for secret in SECRETS if secret.lower() in text.lower()] == []


def test_urls_are_built_from_the_portal_id_and_the_domain_only(governance, specs):
    spec = variant(specs["building-permits"], existing_publication={"published": True, "link": "https://evil.example/x"},
                   publishing={"attribution_link": "https://evil.example/attribution"})
    document = build([entry(spec)], governance)
    urls = [value for value in _strings(document["dataset"][0]) if "://" in value]
    assert urls and all(url.startswith("https://data.lacity.example/") or url in LICENSE_URLS.values() for url in urls)
    assert "evil.example" not in render_data_json(document)


@pytest.mark.parametrize("portal_id", ["abcd-123", "ABCD-1234", "abcd-1234\n", "abcd-1234/../../x", "../x", "", None])
def test_a_portal_id_that_is_not_a_4x4_is_refused(specs, portal_id):
    with pytest.raises(ValueError, match="4x4"):
        PublishedEntry(spec=specs["building-permits"], portal_id=portal_id, stage=Stage.STAGE_2, public_at=T0)


def test_portal_urls_refuse_anything_but_a_4x4():
    urls = PortalUrls(DOMAIN)
    assert urls.csv_download("abcd-1234") == f"https://{DOMAIN}/api/views/abcd-1234/rows.csv?accessType=DOWNLOAD"
    with pytest.raises(ValueError):
        urls.identifier("abcd-1234?x")


@pytest.mark.parametrize("domain", ["https://data.lacity.org", "data.lacity.org/path", "data.lacity.org?x=1",
                                    "user@data.lacity.org", "data lacity.org", "data.lacity.org:99999", "",
                                    "Data.LACity.org", "data.lacity.org\n", "data.lacity.org#"])
def test_a_portal_domain_that_is_not_a_host_is_refused(governance, specs, domain):
    with pytest.raises(ValueError, match="portal domain"):
        build([entry(specs["building-permits"])], governance, portal_domain=domain)


@pytest.mark.parametrize("arguments", [{"catalog_url": "javascript:alert(1)"}, {"catalog_url": "/data.json"},
                                       {"catalog_url": "https://x.example/data json"}, {"portal_scheme": "ftp"},
                                       {"language": ["english please"]}, {"city_name": " "}])
def test_malformed_arguments_are_refused(governance, specs, arguments):
    with pytest.raises(ValueError):
        build([entry(specs["building-permits"])], governance, **arguments)


def test_the_portal_may_be_plain_http_on_a_port_for_the_local_emulator(governance, specs):
    document = build([entry(specs["building-permits"])], governance, portal_domain="127.0.0.1:8123",
                     portal_scheme="http")
    assert document["dataset"][0]["landingPage"] == "http://127.0.0.1:8123/d/bp4x-4abc"
    assert errors_of(document) == []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


# --- the contact ----------------------------------------------------------------------------------

def test_an_address_the_dcat_pattern_refuses_gives_way_to_the_steward(governance, specs):
    spec = variant(specs["building-permits"],
                   publishing={"contact": {"name": "Permits Desk", "email": "permits#desk@ladbs.lacity.example"}})
    contact = build([entry(spec)], governance)["dataset"][0]["contactPoint"]
    assert contact == {"@type": "vcard:Contact", "fn": spec.steward.name, "hasEmail": f"mailto:{spec.steward.email}"}


def test_every_license_of_the_vocabulary_is_mapped_or_deliberately_left_out(governance, specs):
    assert set(LICENSE_URLS) == set(LICENSES) - {"SEE_TERMS_OF_USE"}
    spec = variant(specs["building-permits"], publishing={"license": "SEE_TERMS_OF_USE"})
    assert "license" not in build([entry(spec)], governance)["dataset"][0]


# --- the writer: dataset files and registry in, data.json out --------------------------------------

@pytest.fixture
def include_copy(tmp_path) -> Path:
    target = tmp_path / "include"
    shutil.copytree(REPO_INCLUDE, target, ignore=shutil.ignore_patterns("sample_sources"))
    return target


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    reg.record_portal_dataset("building-permits", IDS["building-permits"])
    reg.record_public("building-permits", at=T0)
    reg.record_portal_dataset("service-requests-311", IDS["service-requests-311"])
    reg.record_public("service-requests-311", at=T0)
    reg.record_published_data("service-requests-311", rows=10, checksum="0" * 64, fingerprint_path=None,
                              refreshed=True)
    reg.record_portal_dataset("restaurant-inspections", IDS["restaurant-inspections"])
    reg.record_submission("restaurant-inspections", at=T0)  # Stage 1: waiting for the CDO
    yield reg
    reg.close()


def write(path: Path, include: Path, registry: Registry):
    return write_data_json(path, catalog_url=CATALOG_URL, portal_domain=DOMAIN, city_name=CITY,
                           include_dir=include, registry=registry)


def test_the_writer_lists_the_published_datasets_from_one_registry_query(tmp_path, include_copy, registry,
                                                                         monkeypatch):
    def no_single_reads(dataset_id):
        raise AssertionError("one query for all datasets, not one per dataset")

    monkeypatch.setattr(registry, "get_state", no_single_reads)
    target = tmp_path / "site" / "data.json"
    result = write(target, include_copy, registry)
    assert (result.listed, result.carried_over, result.missing) == (
        ("building-permits", "service-requests-311"), (), ())
    document = json.loads(target.read_text(encoding="utf-8"))
    assert errors_of(document) == []
    assert [d["identifier"].rsplit("/", 1)[1] for d in document["dataset"]] == [
        IDS["building-permits"], IDS["service-requests-311"]]
    assert target.read_text(encoding="utf-8") == render_data_json(document)
    assert os.stat(target).st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["data.json"]  # no temporary file left


def test_a_published_dataset_whose_file_breaks_keeps_its_previous_entry(tmp_path, include_copy, registry):
    target = tmp_path / "data.json"
    write(target, include_copy, registry)
    before = json.loads(target.read_text(encoding="utf-8"))
    permits = include_copy / "datasets" / "building-and-safety" / "building-permits.yaml"
    permits.write_text(permits.read_text().replace("update_frequency: daily", "update_frequency: dialy"))
    result = write(target, include_copy, registry)
    assert result.carried_over == ("building-permits",) and result.listed == ("service-requests-311",)
    after = json.loads(target.read_text(encoding="utf-8"))
    assert after == before  # the same entry, in its place

    # Never listed before, its file broken: reported, not invented.
    target.unlink()
    result = write(target, include_copy, registry)
    assert result.missing == ("building-permits",) and result.carried_over == ()


def test_a_published_row_without_a_usable_portal_id_is_reported_not_listed(tmp_path, include_copy, registry):
    registry.record_portal_dataset("restaurant-inspections", "RI/../x")
    registry.record_public("restaurant-inspections", at=T0)
    result = write(tmp_path / "data.json", include_copy, registry)
    assert result.missing == ("restaurant-inspections",)
    assert "RI/../x" not in (tmp_path / "data.json").read_text(encoding="utf-8")


def test_a_failed_write_leaves_the_previous_document(tmp_path, include_copy, registry, monkeypatch):
    target = tmp_path / "data.json"
    target.write_text("previous\n")
    (include_copy / "governance.yaml").write_text("people: {}\n")
    with pytest.raises(SpecFileError):
        write(target, include_copy, registry)
    assert target.read_text() == "previous\n"

    shutil.copy(REPO_INCLUDE / "governance.yaml", include_copy / "governance.yaml")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        write(target, include_copy, registry)
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".data.json")] == []

