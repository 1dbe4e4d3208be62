"""``opendata portal doctor``: a read-only check of a real portal connection before the first run.

A city engineer points the ``socrata`` connection at the city's portal and runs the doctor before
any pipeline run. It checks what the pipeline takes for granted and a portal administrator sets
up once: the connection, the credentials, the domain's licenses and categories, the custom
fieldsets and fields the pipeline writes (including the dataset marker), and the approvals
workflow. It ends with the exact names an administrator must create.

**Read-only.** The doctor sends GET requests and Metadata API dry runs (``PATCH
/api/views/metadata/v1/{id}?validateOnly=true&strict=true``, which metadata.json documents as
"not change the underlying asset") and nothing else: :class:`ReadOnlyPortal` refuses any other
request before it reaches the hook. The dry run's asset is read before and after, and a change
is reported as a failure.

The functions that turn answers into :class:`Check` results are pure (no I/O); :func:`run_doctor`
does the requests. Answers whose shape dev.socrata.com does not document (``/api/users/
current.json``, the dry run's errors and warnings) are read leniently.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from opendata.portal.config import SocrataConnectionConfig, is_loopback, normalize_extra, parse_portal_host
from opendata.portal.dataset_metadata import DATASET_FIELDSET, MARKER_FIELD, dataset_metadata
from opendata.portal.errors import (
    SocrataAuthError,
    SocrataBadRequest,
    SocrataConfigError,
    SocrataConnectionError,
    SocrataError,
    SocrataForbiddenOperation,
    SocrataNotFound,
)
from opendata.portal.models import DatasetMarker
from opendata.portal.transport import SessionOwner, SocrataSession, session_of
from opendata.spec.vocab import LICENSES

if TYPE_CHECKING:
    from opendata.portal.hook import SocrataHook
    from opendata.spec.loader import Catalog

P = ParamSpec("P")
R = TypeVar("R")

#: The custom field that marks each dataset the pipeline creates with its dataset file's id
#: (:func:`opendata.portal.dataset_metadata.dataset_marker`).
MARKER_FIELDSET = DATASET_FIELDSET
MARKER_WHY = (
    "The pipeline writes the dataset file's id into this field when it creates a dataset and finds "
    "the dataset again with Discovery's custom-metadata search. When the portal's answer to a create "
    "is lost (timeout, 5xx), the retry searches first: without the field it cannot find the dataset "
    "and would create a second one."
)
_ID = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")
_DRY_RUN_PARAMS = {"validateOnly": "true", "strict": "true"}
# What the dry run sends: the metadata that depends on the domain's set-up. Names, descriptions
# and tags are free text any domain accepts; leaving them out keeps a portal that ignored
# validateOnly from renaming the asset.
_DRY_RUN_KEYS = ("category", "license", "customFields")


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, the verdict, and what to do about it."""

    key: str
    title: str
    status: Status
    summary: str
    details: tuple[str, ...] = ()
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "details": list(self.details),
            "fix": self.fix,
        }


@dataclass(frozen=True)
class AdminItem:
    """Something an administrator must create. ``confirmed`` False: the doctor could not tell
    whether it exists (create it if it is missing)."""

    kind: str  # "fieldset", "field", "category" or "license"
    name: str
    fieldset: str | None = None  # for a field: its fieldset
    fields: tuple[str, ...] = ()  # for a fieldset: its fields
    license_id: str | None = None
    confirmed: bool = True
    datasets: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "fieldset": self.fieldset,
            "fields": list(self.fields),
            "license_id": self.license_id,
            "confirmed": self.confirmed,
            "datasets": list(self.datasets),
        }


# ------------------------------------------------------------------------------------------------
# what the dataset files need from the portal (pure)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What the pipeline will write for the dataset files, in the portal's terms."""

    datasets: tuple[str, ...] = ()
    licenses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # license id -> dataset ids
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # category -> dataset ids
    fieldsets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # fieldset -> fields
    patches: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # dataset id -> dry-run body
    file_errors: int = 0

    def fields(self) -> list[tuple[str, str]]:
        return [(fs, f) for fs, names in self.fieldsets.items() for f in names]

    def datasets_using_field(self, fieldset: str, name: str) -> tuple[str, ...]:
        return tuple(
            ds
            for ds, body in self.patches.items()
            if name in ((body.get("customFields") or {}).get(fieldset) or {})
        )


def needs_from_catalog(catalog: Catalog) -> Needs:
    """Licenses, categories, fieldsets and the Metadata API body the pipeline writes, per file.

    The body comes from :func:`opendata.portal.dataset_metadata.dataset_metadata`, which the
    pipeline itself writes the metadata with, so the doctor checks exactly those names.
    """
    licenses: dict[str, list[str]] = {}
    categories: dict[str, list[str]] = {}
    fieldsets: dict[str, list[str]] = {}
    patches: dict[str, dict[str, Any]] = {}
    for loaded in sorted(catalog.datasets, key=lambda d: d.spec.id):
        spec = loaded.spec
        publishing = spec.publishing
        licenses.setdefault(publishing.license, []).append(spec.id)
        categories.setdefault(publishing.category, []).append(spec.id)
        # The Metadata API body the pipeline sends (the license by name, reference §2.6).
        body = dataset_metadata(spec, catalog.governance).to_metadata_api()
        for fieldset, values in (body.get("customFields") or {}).items():
            known = fieldsets.setdefault(fieldset, [])
            known += [name for name in values or {} if name not in known]
        patches[spec.id] = {k: body[k] for k in _DRY_RUN_KEYS if k in body}
    return Needs(
        datasets=tuple(patches),
        licenses={k: tuple(v) for k, v in licenses.items()},
        categories={k: tuple(v) for k, v in categories.items()},
        fieldsets={k: tuple(v) for k, v in fieldsets.items()},
        patches=patches,
        file_errors=len(catalog.errors),
    )


def discovery_param(fieldset: str, name: str) -> str:
    """Discovery's custom-metadata search parameter (discovery.json, "Find by domain-specific
    metadata"), the same one the pipeline searches its marker with."""
    return DatasetMarker(fieldset, name, "").catalog_param()[0]


def check_dataset_files(needs: Needs, include: Path | str) -> Check:
    if needs.file_errors:
        return Check(
            "files",
            "Dataset files",
            Status.WARN,
            f"{len(needs.datasets)} valid, {needs.file_errors} error(s) under {include}: broken files are not checked",
            fix="Run `.venv/bin/opendata lint` and fix the files it names, then run the doctor again.",
        )
    if not needs.datasets:
        return Check(
            "files",
            "Dataset files",
            Status.WARN,
            f"no dataset files under {include}: there is nothing to compare the portal with",
            fix="Point --include (or OPENDATA_INCLUDE_DIR) at the folder with governance.yaml and datasets/.",
        )
    return Check("files", "Dataset files", Status.OK, f"{len(needs.datasets)} dataset file(s) under {include}")


# ------------------------------------------------------------------------------------------------
# 1. connection settings (pure)
# ------------------------------------------------------------------------------------------------


def check_settings(
    *,
    host: str | None,
    port: int | None = None,
    login: str | None = None,
    password: str | None = None,
    extra: Mapping[str, Any] | None = None,
    schema: str | None = None,
) -> tuple[list[Check], SocrataConnectionConfig | None]:
    """The connection's host, scheme, credentials and app token; the parsed settings when usable.

    Secrets are looked at, never shown: the report says whether they are present.
    """
    checks: list[Check] = []
    try:
        extras = normalize_extra(extra or {})
    except Exception as err:  # noqa: BLE001 - a malformed extra is reported, not raised
        extras = None
        checks.append(
            Check("settings.extra", "Connection extra", Status.FAIL, f"the extra cannot be read ({type(err).__name__})")
        )
    scheme: str | None
    domain: str | None
    try:
        scheme, domain = parse_portal_host(host, port=port, schema=schema)
    except SocrataConfigError as err:
        checks.append(
            Check(
                "settings.host",
                "Portal address",
                Status.FAIL,
                err.message,
                fix="Set the connection's host to the portal domain, e.g. data.lacity.org or https://data.lacity.org.",
            )
        )
        scheme = domain = None
    if domain is not None:
        url = f"{scheme}://{domain}"
        insecure = str((extras or {}).get("allow_insecure_http")).strip().lower() in ("1", "true", "yes", "on")
        if scheme == "https":
            checks.append(Check("settings.host", "Portal address", Status.OK, url))
        elif is_loopback(domain):
            checks.append(
                Check(
                    "settings.host",
                    "Portal address",
                    Status.OK,
                    f"{url} (plain http, accepted because the host is this machine: the emulator)",
                )
            )
        elif insecure:
            checks.append(
                Check(
                    "settings.host",
                    "Portal address",
                    Status.WARN,
                    f"{url}: plain http to another machine; the credentials cross the network unencrypted",
                    fix="Use https:// for a real portal and remove allow_insecure_http from the extra.",
                )
            )
        else:
            checks.append(
                Check(
                    "settings.host",
                    "Portal address",
                    Status.FAIL,
                    f"{url}: plain http is refused for a host that is not this machine",
                    fix="Use https:// (a real portal always serves it).",
                )
            )
    if login and password:
        checks.append(
            Check(
                "settings.credentials",
                "Credentials set",
                Status.OK,
                "login and password present (sent as HTTP Basic; an API key id and secret are recommended)",
            )
        )
    else:
        missing = "login and password" if not login and not password else ("password" if login else "login")
        checks.append(
            Check(
                "settings.credentials",
                "Credentials set",
                Status.FAIL,
                f"no {missing}: the pipeline creates and updates datasets, which needs an account",
                fix="Create an API key at /profile/edit/developer_settings on the portal (as the publishing account) "
                "and put its id in login and its secret in password.",
            )
        )
    token = (extras or {}).get("app_token")
    if token:
        checks.append(Check("settings.app_token", "App token", Status.OK, "present (sent as X-App-Token)"))
    else:
        checks.append(
            Check(
                "settings.app_token",
                "App token",
                Status.WARN,
                "none: requests without an app token share a per-IP pool and may be throttled (HTTP 429)",
                fix='Create an app token on the portal (developer settings) and add {"app_token": "..."} to the '
                "connection's extra.",
            )
        )
    if any(c.status is Status.FAIL for c in checks):
        return checks, None
    try:
        config = SocrataConnectionConfig.from_parts(
            host=host, port=port, login=login, password=password, extra=extra, schema=schema
        )
    except SocrataConfigError as err:
        checks.append(Check("settings.extra", "Connection extra", Status.FAIL, err.message))
        return checks, None
    return checks, config


# ------------------------------------------------------------------------------------------------
# 2. credentials (pure)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: str | None
    name: str | None


def check_current_user(payload: Any = None, error: SocrataError | None = None) -> tuple[Check, User | None]:
    """``GET /api/users/current.json`` ("Who am I?", docs/authentication.md).

    The docs show the endpoint but not its answer, so only ``id`` and ``displayName`` (else
    ``screenName``) are read, and their absence is a warning, not a failure.
    """
    title = "Credentials accepted"
    if isinstance(error, SocrataAuthError):
        return (
            Check(
                "credentials",
                title,
                Status.FAIL,
                f"the portal refused these credentials (HTTP {error.status})",
                details=(str(error),),
                fix="Check login/password: an API key id and secret (or the account's username and password) "
                "created on this portal; a key made on another portal or revoked is refused.",
            ),
            None,
        )
    if isinstance(error, SocrataNotFound):
        return (
            Check(
                "credentials",
                title,
                Status.WARN,
                "the portal has no /api/users/current.json; the credentials are tried by the next checks",
            ),
            User(None, None),
        )
    if isinstance(error, SocrataConnectionError):
        return (
            Check(
                "credentials",
                title,
                Status.FAIL,
                "the portal could not be reached",
                details=(str(error),),
                fix="Check the host, the network path (proxy, firewall) and that the portal is up.",
            ),
            None,
        )
    if error is not None:
        return Check("credentials", title, Status.FAIL, f"the request failed: {error}"), None
    if not isinstance(payload, Mapping):
        return (
            Check("credentials", title, Status.WARN, "the answer is not a user object; continuing without a user id"),
            User(None, None),
        )
    user_id = payload.get("id")
    user_id = str(user_id) if isinstance(user_id, str | int) and str(user_id) else None
    name = payload.get("displayName") or payload.get("screenName")
    name = str(name) if isinstance(name, str | int) and str(name) else None
    if user_id is None:
        return (
            Check(
                "credentials",
                title,
                Status.WARN,
                f"signed in{f' as {name}' if name else ''}, but the answer has no user id (its shape is "
                "undocumented); the probe asset cannot be looked up by owner",
            ),
            User(None, name),
        )
    return (
        Check("credentials", title, Status.OK, f"signed in as {name or '(no display name)'} (user id {user_id})"),
        User(user_id, name),
    )


# ------------------------------------------------------------------------------------------------
# 3. licenses (pure)
# ------------------------------------------------------------------------------------------------


def check_licenses(
    payload: Any, needs: Needs, error: SocrataError | None = None
) -> tuple[Check, list[AdminItem]]:
    """Every license id the files name must be on ``GET /api/licenses`` under the name the
    pipeline writes: creation sends the id (``licenseId``), the Metadata API the name."""
    title = "Licenses"
    if not needs.licenses:
        return Check("licenses", title, Status.OK, "no dataset file names a license"), []
    wanted = {lic: LICENSES.get(lic, lic) for lic in needs.licenses}
    if error is not None or not isinstance(payload, list):
        why = str(error) if error is not None else "the answer is not a list"
        unconfirmed = [
            AdminItem("license", name, license_id=lic, confirmed=False, datasets=needs.licenses[lic])
            for lic, name in wanted.items()
        ]
        return Check("licenses", title, Status.WARN, f"could not read the domain's licenses ({why})"), unconfirmed
    by_id: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for entry in payload:
        if isinstance(entry, Mapping) and entry.get("id"):
            by_id[str(entry["id"])] = str(entry.get("name") or "")
            by_name[str(entry.get("name") or "").casefold()] = str(entry["id"])
    problems: list[str] = []
    items: list[AdminItem] = []
    fine: list[str] = []
    for lic, name in wanted.items():
        used_by = needs.licenses[lic]
        portal_name = by_id.get(lic)
        if portal_name is not None and portal_name.casefold() == name.casefold():
            fine.append(f"{name} ({lic})")
            continue
        if portal_name is not None:
            problems.append(
                f"{lic}: the portal calls it {portal_name!r}, the pipeline writes {name!r} through the "
                f"Metadata API ({', '.join(used_by)})"
            )
        elif name.casefold() in by_name:
            problems.append(
                f"{lic}: the portal has {name!r} under the id {by_name[name.casefold()]}, so creating a dataset "
                f"with licenseId {lic} would not set it ({', '.join(used_by)})"
            )
        else:
            problems.append(f"{name!r} ({lic}) is not on the portal's license list ({', '.join(used_by)})")
        items.append(AdminItem("license", name, license_id=lic, datasets=used_by))
    if problems:
        return (
            Check(
                "licenses",
                title,
                Status.FAIL,
                f"{len(problems)} of {len(wanted)} license(s) the files use are not on the portal as the "
                "pipeline names them",
                details=tuple(problems),
                fix="Ask the portal administrator (licenses are Socrata's list; Tyler support enables them) to offer "
                "the license, or choose one the portal offers (publishing.license; ids and names are in "
                "opendata/spec/vocab.py LICENSES).",
            ),
            items,
        )
    return Check("licenses", title, Status.OK, f"all on the portal: {', '.join(fine)}"), []


# ------------------------------------------------------------------------------------------------
# 5. the Metadata API dry run: reading its answer (pure)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One error or warning of a dry run: the field it names (if it says) and its text."""

    field: str | None
    message: str


def validation_messages(payload: Any) -> tuple[list[Problem], list[Problem]] | None:
    """``(errors, warnings)`` of a validateOnly answer; ``None`` when it carries neither.

    metadata.json says the answer is "the metadata as it would have been changed ... along with a
    list of errors and warnings" without naming the keys or their items. So this reads the keys
    ``errors`` and ``warnings`` at the top level or one object down, each a list (or one item) of
    strings or objects (their ``message`` and ``field``, else every string value).
    """
    if not isinstance(payload, Mapping):
        return None
    found: dict[str, list[Problem]] = {}
    for holder in [payload, *(v for v in payload.values() if isinstance(v, Mapping))]:
        for key in ("errors", "warnings"):
            if key in holder and key not in found:
                found[key] = _problems(holder[key])
    if not found:
        return None
    return found.get("errors", []), found.get("warnings", [])


def _problems(value: Any) -> list[Problem]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[Problem] = []
    for item in items:
        if isinstance(item, Mapping):
            name = item.get("field") or item.get("fieldName") or item.get("key")
            text = item.get("message") or item.get("error") or item.get("description")
            if not isinstance(text, str) or not text:
                text = "; ".join(str(v) for v in item.values() if isinstance(v, str))
            out.append(Problem(str(name) if name else None, text or json.dumps(item, default=str)))
        elif item not in (None, ""):
            out.append(Problem(None, str(item)))
    return out


def _mentions(text: str, names: Iterable[str]) -> set[str]:
    """Which names a message mentions, longest first, each span used once ("Update Frequency"
    is not also a mention of the fieldset "Update")."""
    hay = text.casefold()
    found: set[str] = set()
    for name in sorted(set(names), key=len, reverse=True):
        pattern = re.compile(rf"(?<![0-9a-z]){re.escape(name.casefold())}(?![0-9a-z])")
        if pattern.search(hay):
            found.add(name)
            hay = pattern.sub(lambda m: " " * len(m.group(0)), hay)
    return found


@dataclass(frozen=True)
class Attribution:
    category: bool = False
    license: bool = False
    fieldsets: frozenset[str] = frozenset()  # whole fieldsets the message refuses
    fields: frozenset[tuple[str, str]] = frozenset()

    @property
    def anything(self) -> bool:
        return self.category or self.license or bool(self.fieldsets) or bool(self.fields)


def attribute(body: Mapping[str, Any], problem: Problem) -> Attribution:
    """Which part of a dry-run body a problem is about: the category, the license, a fieldset
    or a field. Matching is by the names the body sent; the message's wording is unknown."""
    custom = body.get("customFields") or {}
    fieldset_names = list(custom)
    field_names = {f for values in custom.values() for f in (values or {})}
    category = body.get("category") or ""
    license_name = body.get("license") or ""
    names = [*fieldset_names, *field_names, *(n for n in (category, license_name) if n)]
    said = _mentions(problem.message, names)
    key = (problem.field or "").casefold()
    fields: set[tuple[str, str]] = set()
    whole: set[str] = set()
    for fieldset in fieldset_names:
        named_fields = [f for f in (custom[fieldset] or {}) if f in said]
        if fieldset in said:
            if named_fields:
                fields.update((fieldset, f) for f in named_fields)
            else:
                whole.add(fieldset)
    if not fields and not whole:
        # A field named without its fieldset: every fieldset of the body that has it.
        fields = {(fs, f) for fs in fieldset_names for f in (custom[fs] or {}) if f in said}
    return Attribution(
        category=key == "category" or bool(category and category in said),
        license=key == "license" or bool(license_name and license_name in said),
        fieldsets=frozenset(whole),
        fields=frozenset(fields),
    )


@dataclass
class DryRun:
    """What the Metadata API dry runs said, gathered over every dataset file."""

    probe: str | None = None
    probe_source: str | None = None  # e.g. "registry: building-permits"
    failure: str | None = None  # why the dry runs could not be done (or stopped)
    checked: list[str] = field(default_factory=list)  # dataset ids whose answer was readable
    unreadable: list[str] = field(default_factory=list)  # answers without errors/warnings
    categories: dict[str, list[str]] = field(default_factory=dict)  # refused category -> messages
    licenses: dict[str, list[str]] = field(default_factory=dict)  # refused license name -> messages
    fieldsets: dict[str, list[str]] = field(default_factory=dict)  # refused fieldset -> messages
    fields: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # refused field -> messages
    warned_fieldsets: dict[str, list[str]] = field(default_factory=dict)
    warned_fields: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    other_errors: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # what the dry runs changed on the probe (!)

    def add(self, dataset_id: str, body: Mapping[str, Any], payload: Any) -> None:
        """Fold one dry run's answer in (pure)."""
        parsed = validation_messages(payload)
        if parsed is None:
            self.unreadable.append(dataset_id)
            return
        self.checked.append(dataset_id)
        errors, warnings = parsed
        for problem, is_error in [*((p, True) for p in errors), *((p, False) for p in warnings)]:
            where = attribute(body, problem)
            text = f"{dataset_id}: {problem.message}"
            if is_error and where.category:
                self.categories.setdefault(str(body.get("category")), []).append(text)
            if is_error and where.license:
                self.licenses.setdefault(str(body.get("license")), []).append(text)
            whole = self.fieldsets if is_error else self.warned_fieldsets
            single = self.fields if is_error else self.warned_fields
            for fieldset in where.fieldsets:
                whole.setdefault(fieldset, []).append(text)
            for pair in where.fields:
                single.setdefault(pair, []).append(text)
            # Warnings about anything else (e.g. strict's notes on untouched keys) are not the
            # domain's set-up; errors the doctor cannot place are shown as they are.
            if is_error and not where.anything:
                self.other_errors.append(text)

    @property
    def verified(self) -> bool:
        return self.probe is not None and self.failure is None and bool(self.checked)

    def category_checked(self, datasets: Iterable[str]) -> bool:
        return self.failure is None and any(ds in self.checked for ds in datasets)

    def field_refused(self, fieldset: str, name: str) -> list[str]:
        return self.fieldsets.get(fieldset, []) + self.fields.get((fieldset, name), [])

    def field_warned(self, fieldset: str, name: str) -> list[str]:
        return self.warned_fieldsets.get(fieldset, []) + self.warned_fields.get((fieldset, name), [])


def metadata_changes(before: Any, after: Any) -> list[str]:
    """What differs between two reads of an asset's Metadata API record, on the keys a dry run
    could have changed (plus ``metadataUpdatedAt``, which any write moves)."""
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return []
    keys = ("category", "license", "customFields", "name", "metadataUpdatedAt")
    return [k for k in keys if before.get(k) != after.get(k)]


# ------------------------------------------------------------------------------------------------
# 4. categories, 5. fieldsets, 7. marker (pure)
# ------------------------------------------------------------------------------------------------


def listed_categories(payload: Any) -> set[str] | None:
    """Categories of ``GET /api/catalog/v1/domain_categories`` (``results[].domain_category``)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("results"), list):
        return None
    out = set()
    for item in payload["results"]:
        if isinstance(item, Mapping):
            name = item.get("domain_category") or item.get("category")
            if isinstance(name, str) and name:
                out.add(name)
    return out


def check_categories(
    payload: Any, needs: Needs, dry: DryRun, error: SocrataError | None = None
) -> tuple[Check, list[AdminItem]]:
    """Each category the files use. The dry run decides when it ran on a file using the category;
    otherwise Discovery's category counts can only show categories some asset already uses."""
    title = "Categories"
    if not needs.categories:
        return Check("categories", title, Status.OK, "no dataset file names a category"), []
    listed = listed_categories(payload) if error is None else None
    listed_folded = {c.casefold() for c in listed or ()}
    refused, unsure, fine, items = [], [], [], []
    for category, used_by in needs.categories.items():
        if category in dry.categories:
            refused.append(f"{category!r}: refused by the Metadata API dry run ({', '.join(used_by)})")
            items.append(AdminItem("category", category, datasets=used_by))
        elif dry.category_checked(used_by):
            fine.append(f"{category!r} (accepted by the dry run)")
        elif category.casefold() in listed_folded:
            fine.append(f"{category!r} (assets use it)")
        else:
            unsure.append(
                f"{category!r}: no asset uses it yet, or it does not exist: check Admin > Metadata "
                f"({', '.join(used_by)})"
            )
            items.append(AdminItem("category", category, confirmed=False, datasets=used_by))
    notes = []
    if error is not None or listed is None:
        notes.append(f"Discovery's category counts could not be read ({error or 'unexpected answer'})")
    if refused:
        return (
            Check(
                "categories",
                title,
                Status.FAIL,
                f"{len(refused)} of {len(needs.categories)} categories do not exist on the domain",
                details=tuple(refused + unsure + notes),
                fix="An administrator adds them in Admin > Metadata (categories), spelled exactly as in the files "
                "(publishing.category), or the files use an existing category.",
            ),
            items,
        )
    if unsure:
        return (
            Check(
                "categories",
                title,
                Status.WARN,
                f"{len(unsure)} of {len(needs.categories)} categories could not be confirmed",
                details=tuple(unsure + notes),
                fix="Check Admin > Metadata; a dry run confirms them once an asset exists to try them on.",
            ),
            items,
        )
    return Check("categories", title, Status.OK, f"all exist: {', '.join(fine)}", details=tuple(notes)), []


def _not_verified_reason(dry: DryRun) -> str:
    if dry.probe is None:
        return dry.failure or "no asset to dry-run the metadata against"
    if dry.failure:
        return dry.failure
    return "the portal's dry-run answers carried no errors/warnings lists"


def check_fieldsets(needs: Needs, dry: DryRun) -> tuple[Check, list[AdminItem]]:
    """Every custom fieldset and field the pipeline writes, tried with the Metadata API dry run."""
    title = "Custom fieldsets"
    all_fields = needs.fields()
    if not all_fields:
        return Check("fieldsets", title, Status.OK, "the dataset files write no custom fields"), []
    listing = tuple(f"{fs!r}: {', '.join(repr(f) for f in names)}" for fs, names in needs.fieldsets.items())
    if dry.changed:
        return (
            Check(
                "fieldsets",
                title,
                Status.FAIL,
                f"asset {dry.probe} changed during the validateOnly dry run ({', '.join(dry.changed)}): this portal "
                "does not honour validateOnly",
                details=(f"Compare asset {dry.probe} with what it was; the doctor sent nothing but dry runs.",),
                fix="Report it to Tyler support; do not run the doctor against this portal again until it is fixed.",
            ),
            [],
        )
    if not dry.verified:
        unconfirmed = [
            AdminItem("fieldset", fs, fields=names, confirmed=False, datasets=needs.datasets)
            for fs, names in needs.fieldsets.items()
        ]
        return (
            Check(
                "fieldsets",
                title,
                Status.WARN,
                f"not verified: {_not_verified_reason(dry)}",
                details=("The pipeline writes:", *listing),
                fix="Make sure an administrator created them (Admin > Metadata); run the doctor again once an asset "
                "exists (any asset the account owns) so that a dry run can confirm them.",
            ),
            unconfirmed,
        )
    items: list[AdminItem] = []
    refused: list[str] = []
    warned: list[str] = []
    for fieldset, names in needs.fieldsets.items():
        if fieldset in dry.fieldsets:
            items.append(AdminItem("fieldset", fieldset, fields=names, datasets=needs.datasets))
            refused.append(f"fieldset {fieldset!r} (fields {', '.join(repr(n) for n in names)})")
            continue
        missing = [n for n in names if dry.fields.get((fieldset, n))]
        for name in missing:
            used_by = needs.datasets_using_field(fieldset, name)
            items.append(AdminItem("field", name, fieldset=fieldset, datasets=used_by))
            refused.append(f"field {name!r} in fieldset {fieldset!r}")
        for name in names:
            if name not in missing and dry.field_warned(fieldset, name):
                warned.append(f"field {name!r} in fieldset {fieldset!r}: {dry.field_warned(fieldset, name)[0]}")
    others = dry.other_errors
    partial = [f"not dry-run (no errors/warnings in the answer): {', '.join(dry.unreadable)}"] if dry.unreadable else []
    where = f"asset {dry.probe} ({dry.probe_source})"
    if refused or others:
        return (
            Check(
                "fieldsets",
                title,
                Status.FAIL,
                f"the Metadata API dry run on {where} refused: {'; '.join(refused) or 'the metadata'}",
                details=tuple(
                    [*(f"portal said: {m}" for m in _refusal_messages(dry)), *_grouped(others), *warned, *partial]
                ),
                fix="An administrator creates the fieldsets and fields in Admin > Metadata, with exactly these "
                "names (see the list at the end).",
            ),
            items,
        )
    if warned or partial:
        return (
            Check(
                "fieldsets",
                title,
                Status.WARN,
                f"the dry run on {where} accepted them with warnings",
                details=tuple(warned + partial),
                fix="Read the warnings: a field the portal only warns about may be dropped silently.",
            ),
            items,
        )
    count = len(all_fields)
    return (
        Check(
            "fieldsets",
            title,
            Status.OK,
            f"{len(needs.fieldsets)} fieldsets, {count} fields accepted by the Metadata API dry run on {where}; "
            "the asset was read before and after: unchanged",
            details=listing,
        ),
        [],
    )


def _refusal_messages(dry: DryRun) -> list[str]:
    return _grouped([m for messages in [*dry.fieldsets.values(), *dry.fields.values()] for m in messages])[:10]


def _grouped(texts: Iterable[str]) -> list[str]:
    """``"<dataset>: <message>"`` lines as one line per message, naming the datasets (every file
    is dry-run, so a missing fieldset would otherwise be reported once per file)."""
    by_message: dict[str, list[str]] = {}
    for text in texts:
        dataset_id, _, message = text.partition(": ")
        names = by_message.setdefault(message, [])
        if dataset_id not in names:
            names.append(dataset_id)
    return [f"{message} ({', '.join(names)})" for message, names in by_message.items()]


@dataclass(frozen=True)
class MarkerSearch:
    """Discovery's custom-metadata search for the probe's own marker (when the probe carries it)."""

    param: str
    value: str
    found: bool | None = None  # None: the search failed
    error: str | None = None


def check_marker(needs: Needs, dry: DryRun, search: MarkerSearch | None = None) -> Check:
    """The field that lets a retry find a dataset instead of creating a second one."""
    title = "Dataset marker"
    label = f"{MARKER_FIELDSET!r} / {MARKER_FIELD!r}"
    param = discovery_param(MARKER_FIELDSET, MARKER_FIELD)
    if MARKER_FIELD not in needs.fieldsets.get(MARKER_FIELDSET, ()):
        return Check("marker", title, Status.OK, "no dataset file to mark", details=(MARKER_WHY,))
    refused = dry.field_refused(MARKER_FIELDSET, MARKER_FIELD)
    warned = dry.field_warned(MARKER_FIELDSET, MARKER_FIELD)
    fix = f"An administrator creates the field {MARKER_FIELD!r} in the fieldset {MARKER_FIELDSET!r} (Admin > Metadata)."
    if dry.changed:
        return Check("marker", title, Status.FAIL, "not checked: the dry run changed the asset", details=(MARKER_WHY,))
    if refused or warned:
        # A warning is enough to fail here: a field the portal drops silently leaves datasets
        # unmarked, and a lost create answer would then end in a duplicate dataset.
        return Check(
            "marker",
            title,
            Status.FAIL,
            f"the portal does not take {label}",
            details=(MARKER_WHY, *(f"portal said: {m}" for m in _grouped(refused or warned)[:3])),
            fix=fix,
        )
    if not dry.verified:
        return Check(
            "marker",
            title,
            Status.WARN,
            f"{label} not verified: {_not_verified_reason(dry)}",
            details=(MARKER_WHY, f"Discovery finds marked datasets with ?{param}=<dataset id>."),
            fix=fix,
        )
    if search is None:
        return Check(
            "marker",
            title,
            Status.OK,
            f"{label} accepted by the dry run; Discovery will find marked datasets with ?{param}=<dataset id>",
            details=(MARKER_WHY,),
        )
    if search.found:
        return Check(
            "marker",
            title,
            Status.OK,
            f"{label} accepted, and Discovery found asset {dry.probe} with ?{search.param}={search.value}",
            details=(MARKER_WHY,),
        )
    why = search.error or "it was not in the results"
    return Check(
        "marker",
        title,
        Status.WARN,
        f"{label} accepted, but Discovery did not find asset {dry.probe} with ?{search.param}={search.value} ({why})",
        details=(
            MARKER_WHY,
            "A newly marked asset can take a while to be indexed; a private fieldset is searchable only with "
            "authenticated requests (the pipeline's are).",
        ),
        fix="Run the doctor again in a few minutes; if the search still finds nothing, ask the administrator "
        "whether the fieldset is searchable.",
    )


# ------------------------------------------------------------------------------------------------
# 6. approvals (pure)
# ------------------------------------------------------------------------------------------------


def check_approvals(guidance: Any, probe: str | None, error: SocrataError | None = None) -> Check:
    """Who approves a public audience request: a person (``expectedState: pending``) or nobody
    (``approved``: the portal approves it at once)."""
    title = "Approvals workflow"
    if probe is None:
        return Check(
            "approvals",
            title,
            Status.WARN,
            "cannot check until an asset exists",
            fix="Run the doctor again once the account owns an asset (the first pipeline run creates one privately).",
        )
    stage1 = (
        "The pipeline submits each dataset for public approval at Stage 1 and waits for the Chief Data "
        "Officer's review before Stage 2."
    )
    if isinstance(error, SocrataNotFound):
        return Check(
            "approvals",
            title,
            Status.FAIL,
            f"the portal has no approvals workflow for asset {probe} (HTTP 404)",
            details=(stage1, "Without one, Stage 1 cannot submit the dataset."),
            fix="Ask the administrator to turn on the approvals workflow for public assets.",
        )
    if isinstance(error, SocrataAuthError):
        return Check(
            "approvals",
            title,
            Status.FAIL,
            f"these credentials may not read the approvals workflow (HTTP {error.status})",
            details=(stage1,),
            fix="Give the publishing account the right to submit assets for approval.",
        )
    if error is not None:
        return Check("approvals", title, Status.FAIL, f"the approvals guidance could not be read: {error}")
    public = guidance.get("public") if isinstance(guidance, Mapping) else None
    if not isinstance(public, Mapping):
        if isinstance(guidance, Mapping) and "currentState" in guidance:
            public = guidance  # the older ``method=guidance`` shape: one object at the top level
        else:
            return Check(
                "approvals",
                title,
                Status.FAIL,
                "the approvals guidance has no public audience entry",
                details=(stage1, "The pipeline reads guidance_v2's 'public' entry to submit and to follow the review."),
                fix="Ask the administrator whether public audience requests go through the approvals workflow.",
            )
    expected: list[str] = []
    queues: list[str] = []
    for route in ("toChangeAudience", "toPublishAndChangeAudience"):
        entry = public.get(route)
        for option in (entry.get("queueOptions") or []) if isinstance(entry, Mapping) else []:
            if isinstance(option, Mapping):
                expected.append(str(option.get("expectedState") or "").lower())
                if option.get("displayName"):
                    queues.append(str(option["displayName"]))
    state = str(public.get("currentState") or "unknown")
    queue_text = f" (queue: {', '.join(dict.fromkeys(queues))})" if queues else ""
    if not expected:
        return Check(
            "approvals",
            title,
            Status.WARN,
            f"the guidance for asset {probe} lists no queue options (current state: {state}): cannot tell who "
            "reviews public requests",
            details=(stage1,),
            fix="Ask the administrator how public audience requests are approved.",
        )
    if "approved" in expected:
        return Check(
            "approvals",
            title,
            Status.WARN,
            f"public audience requests are approved automatically{queue_text}: Stage 2 would not wait for the CDO",
            details=(stage1,),
            fix="Ask the administrator to have public audience requests reviewed by a person (the CDO).",
        )
    if "pending" in expected:
        return Check(
            "approvals",
            title,
            Status.OK,
            f"public audience requests wait for a reviewer{queue_text}",
        )
    return Check(
        "approvals",
        title,
        Status.WARN,
        f"unexpected expectedState {', '.join(sorted(set(expected)))!r}{queue_text}",
        details=(stage1,),
    )


# ------------------------------------------------------------------------------------------------
# the report (pure)
# ------------------------------------------------------------------------------------------------


@dataclass
class Report:
    conn_id: str
    portal: str | None = None
    checks: list[Check] = field(default_factory=list)
    admin: list[AdminItem] = field(default_factory=list)
    probe: str | None = None
    requests: list[str] = field(default_factory=list)
    stopped: str | None = None

    @property
    def failed(self) -> bool:
        return any(c.status is Status.FAIL for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        return {s.value: sum(c.status is s for c in self.checks) for s in Status}

    def to_dict(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "portal": self.portal,
            "ok": not self.failed,
            "counts": self.counts(),
            "checks": [c.to_dict() for c in self.checks],
            "admin_must_create": [i.to_dict() for i in self.admin],
            "probe_asset": self.probe,
            "requests": list(self.requests),
            "stopped": self.stopped,
        }


def render_text(report: Report) -> str:
    lines = [f"Portal doctor: connection {report.conn_id} -> {report.portal or '?'} (read-only)", ""]
    width = max((len(c.title) for c in report.checks), default=10)
    for check in report.checks:
        lines.append(f"  {check.status.value:<5} {check.title:<{width}}  {check.summary}")
        for detail in check.details:
            lines.append(f"  {'':<5} {'':<{width}}    - {detail}")
        if check.fix and check.status is not Status.OK:
            lines.append(f"  {'':<5} {'':<{width}}    fix: {check.fix}")
    if report.stopped:
        lines += ["", f"Stopped: {report.stopped}"]
    lines += ["", "What an administrator must create", *_render_admin(report.admin, bool(report.stopped))]
    counts = report.counts()
    verdict = (
        "Fix the FAIL lines before the first pipeline run."
        if report.failed
        else "Ready for the first pipeline run."
    )
    gets = sum(r.startswith("GET ") for r in report.requests)
    patches = len(report.requests) - gets
    lines += [
        "",
        f"Result: {counts['FAIL']} FAIL, {counts['WARN']} WARN, {counts['OK']} OK. {verdict}",
        f"Sent {len(report.requests)} request(s): {gets} GET, {patches} validateOnly PATCH (dry runs).",
    ]
    return "\n".join(lines)


def _render_admin(items: Sequence[AdminItem], stopped: bool = False) -> list[str]:
    if not items and stopped:
        return ["  Not determined yet: the checks stopped before the portal's set-up (see above)."]
    if not items:
        return ["  Nothing: every category, fieldset, field and license the dataset files use is there."]

    def mark(item: AdminItem) -> str:
        return "" if item.confirmed else "  (not verified: create it if it is missing)"

    out: list[str] = []
    fieldsets = [i for i in items if i.kind in ("fieldset", "field")]
    if fieldsets:
        out.append("  Custom fieldsets (Admin > Metadata; names exactly as written, including case):")
        for item in fieldsets:
            if item.kind == "fieldset":
                fields = ", ".join(f'"{f}"' for f in item.fields)
                out.append(f'    fieldset "{item.name}" with fields {fields}{mark(item)}')
            else:
                out.append(f'    in fieldset "{item.fieldset}": field "{item.name}"{mark(item)}')
    categories = [i for i in items if i.kind == "category"]
    if categories:
        out.append("  Categories (Admin > Metadata):")
        out += [f'    "{i.name}"  used by {", ".join(i.datasets)}{mark(i)}' for i in categories]
    licenses = [i for i in items if i.kind == "license"]
    if licenses:
        out.append("  Licenses (the domain's license list; Tyler support enables them):")
        out += [f'    "{i.name}" (id {i.license_id})  used by {", ".join(i.datasets)}{mark(i)}' for i in licenses]
    return out


# ------------------------------------------------------------------------------------------------
# the runner: the only part that talks to the portal
# ------------------------------------------------------------------------------------------------

_METADATA_PATH = re.compile(r"^/api/views/metadata/v1/[a-z0-9]{4}-[a-z0-9]{4}$")


def ensure_read_only(method: str, path: str, params: Mapping[str, Any] | None) -> None:
    """Refuse every request the doctor must not send: anything but GET, except a Metadata API
    PATCH of one asset that carries ``validateOnly=true`` (a dry run that changes nothing)."""
    verb = method.upper()
    if verb == "GET":
        return
    if (
        verb == "PATCH"
        and _METADATA_PATH.match(path)
        and str((params or {}).get("validateOnly", "")).lower() == "true"
    ):
        return
    raise SocrataForbiddenOperation(
        f"The portal doctor is read-only and refuses to send {verb} {path}", method=verb, path=path
    )


class ReadOnlyPortal:
    """The doctor's way to the portal: GETs and validateOnly dry runs, through the hook's session.

    :param portal: the hook (its session is opened at the first request) or a session.
    """

    def __init__(self, portal: SocrataSession | SessionOwner) -> None:
        self._portal = portal
        self.sent: list[str] = []

    def get(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None) -> Any:
        return self._send("GET", path, params=params)

    def dry_run_metadata(self, asset_id: str, body: Mapping[str, Any]) -> Any:
        return self._send("PATCH", f"/api/views/metadata/v1/{asset_id}", params=dict(_DRY_RUN_PARAMS), body=body)

    def _send(self, method: str, path: str, *, params: Any = None, body: Any = None) -> Any:
        checked = dict(params) if isinstance(params, Mapping) else dict(params or [])
        ensure_read_only(method, path, checked)
        self.sent.append(f"{method} {path}" + ("?validateOnly=true&strict=true" if method == "PATCH" else ""))
        return session_of(self._portal).request(method, path, params=params, body=body)


def _call(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> tuple[R | None, SocrataError | None]:
    try:
        return fn(*args, **kwargs), None
    except SocrataForbiddenOperation:
        raise  # a bug in the doctor, never a portal answer
    except SocrataError as err:
        return None, err


def registry_probe_candidates(dataset_ids: Iterable[str]) -> tuple[list[tuple[str, str]], str | None]:
    """``(portal id, dataset id)`` pairs the pipeline's registry knows, the catalog's datasets
    first; and a note when the registry could not be read. An empty or missing registry is
    normal before the first run.

    Read with one SELECT rather than through :class:`~opendata.registry.Registry`, which creates
    missing tables and columns: a check must not create or migrate the registry (nor a local
    SQLite file that is not there yet).
    """
    import sqlalchemy as sa

    from opendata.registry.store import dataset_state, registry_url

    try:
        url = registry_url()
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]  # the driver Registry uses
        target = sa.engine.make_url(url)
        if target.drivername.startswith("sqlite") and not (target.database and Path(target.database).exists()):
            return [], None
        engine = sa.create_engine(target)
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(dataset_state.name):
                    return [], None
                query = sa.select(dataset_state.c.portal_id, dataset_state.c.dataset_id)
                rows = conn.execute(query.where(dataset_state.c.portal_id.is_not(None))).all()
        finally:
            engine.dispose()
    except Exception as err:  # noqa: BLE001 - an unreachable registry only costs the probe
        # The type only: a database error's text can hold the registry URL with its password.
        return [], f"the registry could not be read ({type(err).__name__})"
    wanted = list(dataset_ids)
    pairs = [(str(p), str(d)) for p, d in rows if _ID.match(str(p))]
    pairs.sort(key=lambda p: (p[1] not in wanted, p[1]))
    return pairs, None


def _find_probe(
    portal: ReadOnlyPortal, config: SocrataConnectionConfig, user: User | None, candidates: Sequence[tuple[str, str]]
) -> tuple[str | None, str | None, str | None, Any, list[str]]:
    """The asset to dry-run against: the first registry asset the portal shows, else one the user
    owns. Returns ``(probe, dataset id or None, source, metadata, notes)``."""
    notes: list[str] = []
    for portal_id, dataset_id in candidates:
        meta, err = _call(portal.get, f"/api/views/metadata/v1/{portal_id}")
        if err is None:
            return portal_id, dataset_id, f"the registry's asset for {dataset_id}", meta, notes
        notes.append(f"registry asset {portal_id} ({dataset_id}): {err}")
    if user is None or user.id is None:
        return None, None, None, None, notes
    params = [("domains", config.host_header), ("for_user", user.id), ("only", "dataset"), ("limit", "1")]
    found, err = _call(portal.get, "/api/catalog/v1", params=params)
    if err is not None:
        notes.append(f"looking for an asset you own: {err}")
        return None, None, None, None, notes
    results = found.get("results") if isinstance(found, Mapping) else None
    for entry in results or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        asset = str(resource.get("id") or "") if isinstance(resource, Mapping) else ""
        if _ID.match(asset):
            meta, err = _call(portal.get, f"/api/views/metadata/v1/{asset}")
            if err is None:
                return asset, None, "an asset you own", meta, notes
            notes.append(f"owned asset {asset}: {err}")
    return None, None, None, None, notes


def _dry_runs(portal: ReadOnlyPortal, needs: Needs, dry: DryRun, own_dataset: str | None) -> None:
    probe = dry.probe
    if probe is None:  # the caller records why there is no asset to dry-run against
        return
    # The probe's own dataset first: what the pipeline writes to that asset anyway.
    order = sorted(needs.patches, key=lambda ds: ds != own_dataset)
    for dataset_id in order:
        body = {k: v for k, v in needs.patches[dataset_id].items() if k in _DRY_RUN_KEYS}
        try:
            answer = portal.dry_run_metadata(probe, body)
        except SocrataBadRequest as err:
            # A refusal with a 400 still carries the portal's reasons; read them like an answer.
            answer = err.data if validation_messages(err.data) else {"errors": [{"message": err.message}]}
        except SocrataAuthError as err:
            dry.failure = f"these credentials may not edit asset {dry.probe}, so the dry run is refused ({err.status})"
            return
        except SocrataForbiddenOperation:
            raise
        except SocrataError as err:
            dry.failure = f"the dry run failed: {err}"
            return
        dry.add(dataset_id, body, answer)


def run_doctor(
    hook: SocrataHook,
    catalog: Catalog,
    *,
    include: Path | str = "include",
    probe_candidates: Sequence[tuple[str, str]] | None = None,
) -> Report:
    """Run every check against ``hook``'s connection for the dataset files in ``catalog``.

    :param probe_candidates: ``(portal id, dataset id)`` pairs to try as the dry run's asset;
        default: what the pipeline's registry knows.
    """
    needs = needs_from_catalog(catalog)
    report = Report(conn_id=hook.socrata_conn_id)
    report.checks.append(check_dataset_files(needs, include))
    try:
        conn = hook.get_connection(hook.socrata_conn_id)
    except Exception as err:  # noqa: BLE001 - Airflow raises its own not-found type
        report.checks.append(
            Check(
                "settings.connection",
                "Airflow connection",
                Status.FAIL,
                f"cannot read the connection {hook.socrata_conn_id!r} ({type(err).__name__})",
                fix=f"Define it (UI, secrets backend or AIRFLOW_CONN_{hook.socrata_conn_id.upper()}); see README.md, "
                "'Configure real connections'.",
            )
        )
        report.stopped = "there is no connection to check"
        return report
    checks, config = check_settings(
        host=conn.host,
        port=conn.port,
        login=conn.login,
        password=conn.password,
        extra=getattr(conn, "extra_dejson", None) or {},
        schema=getattr(conn, "schema", None),
    )
    report.checks += checks
    if config is None:
        report.stopped = "fix the connection settings first; nothing was sent to the portal"
        return report
    report.portal = config.base_url
    portal = ReadOnlyPortal(hook)
    try:
        _run_portal_checks(report, portal, config, needs, probe_candidates)
    finally:
        report.requests = list(portal.sent)
    return report


def _run_portal_checks(
    report: Report,
    portal: ReadOnlyPortal,
    config: SocrataConnectionConfig,
    needs: Needs,
    probe_candidates: Sequence[tuple[str, str]] | None,
) -> None:
    answer, err = _call(portal.get, "/api/users/current.json")
    check, user = check_current_user(answer, err)
    report.checks.append(check)
    if check.status is Status.FAIL:
        report.stopped = "the portal did not accept the connection; the other checks need it"
        return

    licenses, licenses_err = _call(portal.get, "/api/licenses")
    license_check, license_items = check_licenses(licenses, needs, licenses_err)
    categories, categories_err = _call(
        portal.get, "/api/catalog/v1/domain_categories", params=[("domains", config.host_header)]
    )

    notes: list[str] = []
    if probe_candidates is None:
        probe_candidates, note = registry_probe_candidates(needs.datasets)
        if note:
            notes.append(note)
    probe, own_dataset, source, before, probe_notes = _find_probe(portal, config, user, probe_candidates)
    notes += probe_notes
    report.probe = probe
    dry = DryRun(probe=probe, probe_source=source)
    if probe is None:
        dry.failure = "no asset to dry-run the metadata against (the registry has none and the account owns none)"
    elif needs.patches:
        _dry_runs(portal, needs, dry, own_dataset)
        after, after_err = _call(portal.get, f"/api/views/metadata/v1/{probe}")
        if after_err is None:
            dry.changed = metadata_changes(before, after)
        else:
            notes.append(f"asset {probe} could not be read again after the dry run: {after_err}")

    guidance, guidance_err = (None, None)
    if probe is not None:
        guidance, guidance_err = _call(
            portal.get, f"/api/views/{probe}/approvals", params={"method": "guidance_v2", "assetId": probe}
        )

    search = None
    marked = ((before or {}).get("customFields") or {}).get(MARKER_FIELDSET) if isinstance(before, Mapping) else None
    if own_dataset and isinstance(marked, Mapping) and marked.get(MARKER_FIELD) == own_dataset and dry.verified:
        param = discovery_param(MARKER_FIELDSET, MARKER_FIELD)
        params = [("domains", config.host_header), (param, own_dataset), ("limit", "10")]
        found, search_err = _call(portal.get, "/api/catalog/v1", params=params)
        ids = {
            str((r.get("resource") or {}).get("id"))
            for r in ((found or {}).get("results") or [] if isinstance(found, Mapping) else [])
            if isinstance(r, Mapping) and isinstance(r.get("resource"), Mapping)
        }
        search = MarkerSearch(
            param, own_dataset, None if search_err else probe in ids, str(search_err) if search_err else None
        )

    category_check, category_items = check_categories(categories, needs, dry, categories_err)
    fieldset_check, fieldset_items = check_fieldsets(needs, dry)
    if notes:
        fieldset_check = Check(
            fieldset_check.key,
            fieldset_check.title,
            fieldset_check.status,
            fieldset_check.summary,
            fieldset_check.details + tuple(notes),
            fieldset_check.fix,
        )
    report.checks += [
        license_check,
        category_check,
        fieldset_check,
        check_approvals(guidance, probe, guidance_err),
        check_marker(needs, dry, search),
    ]
    report.admin = fieldset_items + category_items + license_items


@contextlib.contextmanager
def _logs_to_stderr() -> Iterator[None]:
    """In a command-line process Airflow logs to stdout (a root handler on it, and structlog
    writing to ``sys.stdout``), and the hook logs every request: send that to stderr for the
    duration, so that stdout carries the report alone and ``--json`` parses."""
    swapped = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
            swapped.append((handler, handler.stream))
            handler.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


def doctor_command(conn_id: str, *, include: Path | None = None, as_json: bool = False) -> int:
    """``opendata portal doctor``: print the report (text or JSON); 0 when nothing FAILs."""
    from opendata import settings
    from opendata.portal.hook import SocrataHook
    from opendata.spec.loader import load_catalog

    folder = include or settings.include_dir()
    catalog = load_catalog(folder)
    with _logs_to_stderr(), SocrataHook(conn_id) as hook:
        report = run_doctor(hook, catalog, include=folder)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render_text(report))
    sys.stdout.flush()
    return report.exit_code
