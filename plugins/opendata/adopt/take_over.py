"""`opendata adopt`: take over datasets already public on the portal (thin I/O around the draft).

Reads the portal (one view read per dataset; the catalog for a batch), the registry and the
include folder; writes the registry's adoption record and the dataset file. Nothing is ever sent
to the portal. A dataset is refused, with the reason and nothing written, when it is not public
and published, when the pipeline manages it (its marker, or the registry), or when its id or
file is taken. Re-running is idempotent: an adopted dataset is skipped (its file written again if
it went missing), never recorded twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from opendata.adopt import fields as portal_fields
from opendata.adopt.draft import Draft, NotAdoptable, dataset_id_for, draft_dataset
from opendata.portal.errors import SocrataError, SocrataNotFound
from opendata.registry import AdoptionConflict
from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.people import department_people
from opendata.scaffold.render import render_dataset_file
from opendata.scaffold.write import claim_check, dataset_path, write_dataset_file
from opendata.spec.loader import dataset_files

if TYPE_CHECKING:
    from opendata.portal.hook import SocrataHook
    from opendata.registry import DatasetState, Registry
    from opendata.scaffold.profile import SourceProfile
    from opendata.spec.governance import Governance

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    ADOPTED = "adopted"
    DRY_RUN = "dry-run"             # what would be adopted; nothing written
    ALREADY = "already adopted"     # skipped: adopted earlier (idempotent)
    NOT_ELIGIBLE = "skipped"        # not public and published, or the pipeline manages it
    FAILED = "failed"               # could not be adopted: the reason says what to do


@dataclass(frozen=True)
class AdoptResult:
    portal_id: str
    outcome: Outcome
    message: str
    dataset_id: str | None = None
    path: Path | None = None
    todos: tuple[tuple[str, str], ...] = ()
    mismatch: tuple[str, ...] = ()
    text: str | None = None          # the file's text (dry run)
    seconds: float = 0.0

    def line(self) -> str:
        """The summary line of one dataset."""
        return f"{self.outcome.value:<16} {self.portal_id}  {self.message}"


@dataclass(frozen=True)
class AdoptRequest:
    """What every dataset of one `opendata adopt` is adopted with."""

    include_dir: Path
    governance: Governance
    by: str                      # a person key of governance.yaml
    department: str | None = None
    dataset_id: str | None = None
    overwrite: bool = False
    dry_run: bool = False
    profile: SourceProfile | None = None
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    @property
    def by_name(self) -> str:
        return self.governance.people[self.by].name


def _file_of(include_dir: Path, dataset_id: str) -> Path | None:
    return next((p for p in dataset_files(include_dir / "datasets") if p.stem == dataset_id), None)


def adopt_one(hook: SocrataHook, registry: Registry, portal_id: str, request: AdoptRequest) -> AdoptResult:
    """Adopt portal dataset ``portal_id`` (see the module's docstring); never raises for a
    dataset-level problem: the result says what happened."""
    started = dt.datetime.now(dt.UTC)
    try:
        result = _adopt(hook, registry, portal_id, request)
    except (SocrataError, ScaffoldError, NotAdoptable, AdoptionConflict) as exc:
        result = AdoptResult(portal_id, Outcome.FAILED, str(exc))
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return dataclasses.replace(result, seconds=seconds)


def _adopt(hook: SocrataHook, registry: Registry, portal_id: str, request: AdoptRequest) -> AdoptResult:
    known = registry.dataset_for_portal_id(portal_id)
    resuming: DatasetState | None = None
    if known is not None:
        if not known.adopted:
            return AdoptResult(portal_id, Outcome.NOT_ELIGIBLE, f"the pipeline publishes it already as "
                                                                f"{known.dataset_id} (stage {known.stage.value})",
                               known.dataset_id)
        existing = _file_of(request.include_dir, known.dataset_id)
        if existing is not None and not request.overwrite:
            return AdoptResult(portal_id, Outcome.ALREADY, f"as {known.dataset_id} on {known.adopted_at:%Y-%m-%d} by "
                                                           f"{known.adopted_by} ({existing})", known.dataset_id,
                               existing)
        resuming = known  # adopted, its file missing (or to be rewritten): the file only
    try:
        description = hook.describe_dataset(portal_id)
    except SocrataNotFound:
        return AdoptResult(portal_id, Outcome.FAILED, f"the portal has no dataset {portal_id}")
    if not description.public_and_published:
        state = "a draft (unpublished)" if not description.published else f"{description.audience.value}, not public"
        return AdoptResult(portal_id, Outcome.NOT_ELIGIBLE,
                           f"{description.name!r} is {state}: adopt takes over public datasets only; a dataset not "
                           f"public yet goes through the pipeline's own publication (write its file with "
                           f"`opendata new`)")
    marker = description.custom_value(*portal_fields.MARKER)
    if marker and resuming is None:
        return AdoptResult(portal_id, Outcome.NOT_ELIGIBLE,
                           f"{description.name!r} carries the pipeline's marker ({portal_fields.MARKER[0]} / "
                           f"{portal_fields.MARKER[1]}: {marker}): a pipeline created it as {marker}; it is that "
                           f"dataset file's, not one to adopt")
    department = request.department or (resuming and _department_of_file(request, resuming)) \
        or portal_fields.department_key(request.governance, description.custom_value(*portal_fields.DEPARTMENT))
    if not department:
        named = description.custom_value(*portal_fields.DEPARTMENT)
        return AdoptResult(portal_id, Outcome.FAILED,
                           "give --department (a governance.yaml department key)"
                           + (f"; the portal names {named!r}, which governance.yaml does not" if named else ""))
    people = department_people(request.governance, department)
    dataset_id = resuming.dataset_id if resuming else (request.dataset_id or dataset_id_for(description.name))
    target = dataset_path(request.include_dir, department, dataset_id)
    if resuming is None:
        taken = registry.get_state(dataset_id)
        if taken is not None:
            return AdoptResult(portal_id, Outcome.FAILED,
                               f"dataset id {dataset_id} is taken in the registry (portal dataset "
                               f"{taken.portal_id or 'none yet'}); give another with --id", dataset_id)
    claim_check(request.include_dir, target, overwrite=request.overwrite or resuming is not None)
    now = request.now()
    page = f"{hook.base_url}/d/{portal_id}"
    draft = draft_dataset(description, dataset_id=dataset_id, people=people, governance=request.governance,
                          portal_page=page, adopted_by=request.by_name, today=now.date(), profile=request.profile)
    if request.dry_run:
        text = render_dataset_file(draft.data, comments=draft.comments)
        return _result(portal_id, Outcome.DRY_RUN, f"would be {dataset_id} ({target}); nothing written", draft,
                       target, text)
    if resuming is None:
        registry.record_adoption(dataset_id, portal_id, by=request.by_name, at=now,
                                 public_since=description.public_since)
    path = write_dataset_file(request.include_dir, draft.data, comments=draft.comments,
                              overwrite=request.overwrite or resuming is not None)
    how = "file written again" if resuming is not None else f"recorded public (Stage 2) by {request.by_name}"
    return _result(portal_id, Outcome.ADOPTED, f"as {dataset_id} -> {path} ({how})", draft, path)


def _department_of_file(request: AdoptRequest, state: DatasetState) -> str | None:
    existing = _file_of(request.include_dir, state.dataset_id)
    return existing.parent.name if existing is not None else None


def _result(portal_id: str, outcome: Outcome, message: str, draft: Draft, path: Path,
            text: str | None = None) -> AdoptResult:
    extra = []
    if draft.todos:
        extra.append(f"{len(draft.todos)} TODO(s) to fill")
    if draft.mismatch:
        extra.append("column mismatch with the source")
    suffix = f"; {', '.join(extra)}" if extra else ""
    return AdoptResult(portal_id, outcome, message + suffix, str(draft.data["id"]), path, draft.todos,
                       draft.mismatch, text)


def catalog_ids(hook: SocrataHook, *, category: str | None, owner: str | None) -> list[str]:
    """The datasets of a batch: the catalog's datasets of ``category`` or owned by ``owner``."""
    assets = hook.list_catalog_datasets(categories=[category] if category else (), owner=owner)
    return [asset.id for asset in assets]


def adopt_batch(hook: SocrataHook, registry: Registry, portal_ids: Sequence[str],
                request: AdoptRequest) -> Iterator[AdoptResult]:
    """Each dataset in turn, one file each; a failure of one does not stop the others."""
    for portal_id in portal_ids:
        try:
            yield adopt_one(hook, registry, portal_id, request)
        except Exception as exc:  # noqa: BLE001 - reported as this dataset's failure, the batch goes on
            log.exception("adopting %s failed", portal_id)
            yield AdoptResult(portal_id, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
