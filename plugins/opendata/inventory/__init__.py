"""The city's inventory as one read model: every dataset file, what the registry and Airflow say
about it, and what waits on whom. What the "Open Data" view in the Airflow UI shows.

    model        the typed rows (InventoryRow, WaitingItem, TimelineEntry, ...) and their inputs
    files        DatasetFileIndex: the dataset files' summaries, re-read only when a file changed
    registry     RegistryReader: the registry in bulk (a handful of queries for every dataset)
    airflow      read_airflow(): Airflow's metadata database in bulk (three queries)
    links        Links: every URL the view shows, built from validated ids only
    build        build_rows(), waiting_on(), freshness_of(): the rows (pure)
    query        InventoryQuery, filter_rows(), sort_rows() (pure)
    export       rows_csv() (pure; formula cells neutralised)
    timeline     timeline(): planned and not-yet-public datasets as one list (pure)
    detail       a dataset's page: run history, punctuality, approvals, versions, its checklist report
    service      Inventory: the reads above put together (what the UI calls)

Names are imported lazily, so ``import opendata.inventory`` stays cheap.
"""

from __future__ import annotations

from opendata._lazy import lazy_exports

_EXPORTS = {
    "InventoryRow": "opendata.inventory.model",
    "WaitingItem": "opendata.inventory.model",
    "TimelineEntry": "opendata.inventory.model",
    "DatasetFileIndex": "opendata.inventory.files",
    "Links": "opendata.inventory.links",
    "InventoryQuery": "opendata.inventory.query",
    "Inventory": "opendata.inventory.service",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
