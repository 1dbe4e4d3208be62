"""The published inventory as a DCAT-US 1.1 (Project Open Data) ``data.json``.

    dcat     PublishedEntry, build_data_json(), render_data_json() (pure)
    writer   write_data_json(): the dataset files and the registry in, data.json out (atomic)

Names are imported lazily, so ``import opendata.catalog`` stays cheap at DAG-parse time.
"""

from __future__ import annotations

from opendata._lazy import lazy_exports

_EXPORTS = {
    "PublishedEntry": "opendata.catalog.dcat",
    "PortalUrls": "opendata.catalog.dcat",
    "build_data_json": "opendata.catalog.dcat",
    "render_data_json": "opendata.catalog.dcat",
    "DataJsonWritten": "opendata.catalog.writer",
    "write_data_json": "opendata.catalog.writer",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
