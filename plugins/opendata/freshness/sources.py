"""The monitor's reads: dataset files, the registry and the portal, each in bulk.

* Dataset files: every file under ``include/datasets`` through libyaml, the spec's one-pass
  build of its nodes (``spec/validate.py: plain_yaml``) and the typed model (about a millisecond a file; the
  line-tracking loader the lint command uses takes ~15 ms, too slow for a thousand files every
  hour). A file that does not validate is skipped: it
  has no DAG either, and the lint command and the DAG import error report it. A planned file
  (``status: planned``: no DAG, nothing published to watch) is not monitored; it is kept apart,
  for the quarterly report's timeline, without a word in the log.
* The registry: which datasets are public (stage-2 or refreshing) with a portal id.
* The portal: ``dataUpdatedAt`` of every monitored dataset from the Discovery API, 200 ids per
  request (five requests for a thousand datasets); ``numberOfComments`` per view, only for
  the slice the comment watch reads this run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from opendata import settings
from opendata.freshness.evaluate import MonitoredDataset
from opendata.freshness.policy import CITY_TIMEZONE, policy_for
from opendata.registry.stage_snapshot import read_dataset_files
from opendata.spec.dataset import DatasetSpec, PlannedDataset
from opendata.spec.governance import Governance
from opendata.spec.holders import choose_holders
from opendata.spec.loader import dataset_files, load_governance
from opendata.spec.reading import read_config_text
from opendata.spec.status import is_planned
from opendata.spec.validate import plain_yaml

if TYPE_CHECKING:
    from opendata.portal.models import AssetFreshness, ViewMetadata
    from opendata.registry.store import DatasetState

log = logging.getLogger(__name__)

#: Ids per Discovery API request: about 3 KB of query string, well inside any server's limit.
CATALOG_BATCH = 200

@dataclass(frozen=True)
class DatasetFiles:
    governance: Governance
    # The valid files of datasets that run, by id: what the monitor watches.
    specs: dict[str, DatasetSpec]
    # The valid planned files, by id (never monitored: the quarterly report's timeline).
    planned: dict[str, PlannedDataset] = field(default_factory=dict)


def load_dataset_files(include_dir: Path | None = None) -> DatasetFiles:
    include = include_dir or settings.include_dir()
    governance, errors = load_governance(settings.governance_file(include))
    if governance is None:
        from opendata.spec.errors import SpecFileError

        raise SpecFileError(errors)
    specs: dict[str, DatasetSpec] = {}
    planned: dict[str, PlannedDataset] = {}
    datasets_dir = include / "datasets"
    files = [path for path in dataset_files(datasets_dir) if path.is_file()]
    # Two files claiming one id: the one holding it (as the DAG files decided) is the dataset.
    holders = choose_holders(files, datasets_dir, read_dataset_files()).holder
    limit = settings.max_dataset_file_bytes()
    for path in files:
        if holders.get(path.stem) != path:
            log.warning("Skipping %s: another file holds dataset id %r; run `opendata lint`", path, path.stem)
            continue
        data = None
        try:
            # The DAG files' reader: regular files in the include folder, size-limited (a pipe or
            # a huge file must not stall the monitor either).
            data = plain_yaml(read_config_text(path, include, limit).text)
            model = PlannedDataset if is_planned(data) else DatasetSpec
            spec = model.model_validate(data)
        except Exception as exc:  # noqa: BLE001 - any broken file is skipped, never fatal
            # A planned file, even a broken one, is none of the monitor's business (lint reports it).
            if not is_planned(data):
                log.warning("Skipping %s: it does not validate (%s); run `opendata lint`", path, type(exc).__name__)
            continue
        if spec.id != path.stem or spec.department != path.parent.name:
            if isinstance(spec, DatasetSpec):
                log.warning("Skipping %s: id or folder does not check out; run `opendata lint`", path)
            continue
        if isinstance(spec, PlannedDataset):
            planned[spec.id] = spec
        else:
            specs[spec.id] = spec
    return DatasetFiles(governance, specs, planned)


def monitored_datasets(files: DatasetFiles, states: Iterable[DatasetState],
                       timezone: str = CITY_TIMEZONE) -> list[MonitoredDataset]:
    """The datasets the registry records as public (stage-2, refreshing) with a portal id,
    and whose file is valid. ``states`` are registry :class:`DatasetState` rows."""
    out = []
    for state in states:
        spec = files.specs.get(state.dataset_id)
        if spec is None or not state.portal_id or not state.stage.is_public:
            continue
        try:
            policy = policy_for(spec, timezone)
        except ValueError as exc:  # thresholds the lint command rejects
            log.warning("Skipping %s: its freshness policy is invalid (%s)", spec.id, exc)
            continue
        department = files.governance.departments.get(spec.department)
        out.append(MonitoredDataset(
            dataset_id=spec.id, name=spec.name, department=spec.department,
            department_name=department.name if department else spec.department,
            steward_name=spec.steward.name, steward_email=str(spec.steward.email),
            frequency=spec.update_frequency.value, portal_id=state.portal_id, policy=policy,
            newest_date_column=spec.freshness.newest_date_column,
            newest_from_watermark=bool(spec.freshness.newest_date_column)
            and spec.freshness.newest_date_column == spec.source.watermark))
    return sorted(out, key=lambda d: d.dataset_id)


class PortalReads(Protocol):
    """What the monitor reads from the portal: :class:`~opendata.portal.hook.SocrataHook` has it
    (tests and the benchmark may pass a stand-in)."""

    @property
    def base_url(self) -> str: ...

    def list_asset_freshness(self, ids: Iterable[str] | None = ..., *,
                             batch_size: int = ...) -> Mapping[str, AssetFreshness]: ...

    def get_view(self, dataset_id: str) -> ViewMetadata: ...

    def close(self) -> None: ...


def read_data_updates(hook: PortalReads, portal_ids: Iterable[str],
                      batch_size: int = CATALOG_BATCH) -> Mapping[str, AssetFreshness]:
    """Portal id -> :class:`AssetFreshness` (``data_updated_at``: the portal's ``dataUpdatedAt``)."""
    ids = sorted(set(portal_ids))
    if not ids:
        return {}
    return hook.list_asset_freshness(ids, batch_size=batch_size)


def read_comment_counts(hook: PortalReads, portal_ids: Iterable[str]) -> dict[str, int]:
    """Portal id -> ``numberOfComments`` (one view read each). An unreadable view is skipped."""
    from opendata.portal.errors import SocrataError

    counts: dict[str, int] = {}
    for portal_id in portal_ids:
        try:
            count = hook.get_view(portal_id).number_of_comments
        except SocrataError as exc:
            log.warning("Could not read the comments of %s: %s", portal_id, exc)
            continue
        if count is not None:
            counts[portal_id] = count
    return counts
