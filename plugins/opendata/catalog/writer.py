"""Read the dataset files and the registry, write ``data.json`` (the I/O around :mod:`.dcat`).

One load of the include folder, one query of the registry (every dataset's row), one file
written atomically in the store (:mod:`opendata.storage`): locally to a temporary file beside
the target renamed over it, in an object store by one PUT, so a reader (the serving plugin, a
harvester) gets the old document or the new one, never half of either; a failure leaves the old
one in place.

A published dataset whose file does not load now (a typo, a file removed while the dataset
stays on the portal) keeps the entry the previous ``data.json`` had for it: a harvester that
no longer finds a dataset deletes it from its own catalog, and a department's typo must not
do that. One never listed before is reported in :attr:`DataJsonWritten.missing`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opendata import settings, storage
from opendata.catalog.dcat import LISTED_STAGES, PortalUrls, PublishedEntry, build_data_json, render_data_json
from opendata.registry import DatasetState, Registry
from opendata.registry.stage_snapshot import read_dataset_files
from opendata.spec.dataset import DatasetSpec
from opendata.spec.errors import SpecFileError
from opendata.spec.loader import load_catalog

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataJsonWritten:
    """What a write listed, for the task's log."""

    #: Where it was written (a local path, or the URL of the object in the store).
    path: str
    #: Dataset ids listed from their dataset files.
    listed: tuple[str, ...]
    #: Published datasets whose file does not load: their previous entry was kept.
    carried_over: tuple[str, ...]
    #: Published on the registry but not listed: no valid file and no previous entry, or no valid
    #: portal id or publication time recorded.
    missing: tuple[str, ...]


def write_data_json(path: Path | str | ObjectStoragePath, *, catalog_url: str, portal_domain: str, city_name: str,
                    portal_scheme: str = "https", language: Sequence[str] = (),
                    include_dir: Path | None = None, registry: Registry | None = None) -> DataJsonWritten:
    """Write the DCAT-US 1.1 ``data.json`` of every published dataset to ``path`` (a local
    file or a location in the store).

    ``include_dir``: the dataset files (default: the configured include folder); ``registry``:
    the publication registry (default: ``Registry.from_settings()``, closed afterwards). The
    other arguments are :func:`opendata.catalog.dcat.build_data_json`'s. Raises
    :class:`SpecFileError` when governance.yaml does not load (publisher names come from it),
    :class:`opendata.registry.RegistryUnavailable` when the registry cannot be read; the
    previous file stays in place either way.
    """
    include = include_dir or settings.include_dir()
    own_registry = registry is None
    registry = registry or Registry.from_settings()
    try:
        states = registry.all_states()
    finally:
        if own_registry:
            registry.close()
    catalog = load_catalog(include, record=read_dataset_files(), stages={s.dataset_id: s.stage.value for s in states})
    if catalog.governance is None:
        governance_file = settings.governance_file(include)
        raise SpecFileError([e for e in catalog.errors if e.file == governance_file] or catalog.errors)
    specs = {loaded.spec.id: loaded.spec for loaded in catalog.datasets}
    entries, unlisted = published_entries(specs, states)
    document = build_data_json(entries, catalog_url=catalog_url, portal_domain=portal_domain,
                               governance=catalog.governance, city_name=city_name, portal_scheme=portal_scheme,
                               language=language)
    urls = PortalUrls(portal_domain, portal_scheme)
    listed = tuple(sorted(e.spec.id for e in entries if e.listed))
    where = storage.resolve(path)
    carried, missing = _carry_over(document, _previous_entries(where), unlisted, urls)
    # Every entry in dataset-id order, the carried ones among the others.
    dataset_ids = {urls.identifier(e.portal_id): e.spec.id for e in entries}
    dataset_ids.update({urls.identifier(unlisted[i] or ""): i for i in carried})
    document["dataset"].sort(key=lambda d: (dataset_ids.get(d["identifier"], ""), d["identifier"]))
    write_atomically(where, render_data_json(document))
    result = DataJsonWritten(storage.recorded(where), listed, carried, tuple(sorted(missing)))
    if carried or missing:
        log.warning("data.json: %s kept from the previous document (their files do not load now); %s not listed",
                    ", ".join(carried) or "none", ", ".join(result.missing) or "none")
    return result


def published_entries(specs: Mapping[str, DatasetSpec], states: Iterable[DatasetState],
                      ) -> tuple[list[PublishedEntry], dict[str, str | None]]:
    """(an entry per registry row with a valid file and portal id, {dataset id: portal id} of the
    published rows that gave none)."""
    entries: list[PublishedEntry] = []
    unlisted: dict[str, str | None] = {}
    for state in states:
        published = state.stage in LISTED_STAGES
        spec = specs.get(state.dataset_id)
        try:
            entry = PublishedEntry.from_state(spec, state) if spec is not None else None
        except ValueError as exc:  # no portal id yet (not a warning before publication)
            if published:
                log.warning("data.json: %s", exc)
            entry = None
        if entry is not None:
            entries.append(entry)
        if published and (entry is None or not entry.listed):
            unlisted[state.dataset_id] = state.portal_id
    return entries, unlisted


def _previous_entries(where: ObjectStoragePath) -> dict[str, dict[str, Any]]:
    """identifier -> dataset object of the document at ``where`` (nothing when there is none).
    A store that cannot be read raises: the entries carried over would be lost otherwise."""
    try:
        previous = json.loads(storage.read_text(where))
    except storage.StoredFileMissing:
        return {}
    except storage.StorageError:
        raise
    except (OSError, ValueError):
        return {}
    datasets = previous.get("dataset") if isinstance(previous, dict) else None
    return {d["identifier"]: d for d in datasets or [] if isinstance(d, dict) and isinstance(d.get("identifier"), str)}


def _carry_over(document: dict[str, Any], previous: Mapping[str, dict[str, Any]], unlisted: Mapping[str, str | None],
                urls: PortalUrls) -> tuple[tuple[str, ...], list[str]]:
    carried: list[str] = []
    missing: list[str] = []
    listed = {d["identifier"] for d in document["dataset"]}
    for dataset_id, portal_id in sorted(unlisted.items()):
        try:
            identifier = urls.identifier(portal_id or "")
        except ValueError:
            missing.append(dataset_id)
            continue
        if identifier in previous and identifier not in listed:
            document["dataset"].append(previous[identifier])
            listed.add(identifier)
            carried.append(dataset_id)
        else:
            missing.append(dataset_id)
    return tuple(carried), missing


def write_atomically(where: Path | str | ObjectStoragePath, text: str) -> None:
    """``text`` to ``where``, replaced atomically; a local file flushed to disk and readable by
    everyone (it is the public catalog)."""
    storage.write_text(storage.resolve(where), text, public=True, durable=True)
