"""The city's catalog of datasets as a whole: reports and exports over every dataset file and the registry.

    dcat              PublishedEntry, build_data_json(), render_data_json() (pure): DCAT-US 1.1 data.json
    writer            write_data_json(): the dataset files and the registry in, data.json out (atomic)
    quarterly         the working group's quarterly figures (pure)
    quarterly_read    report_for(): the registry and dataset files in bulk, into those figures
    quarterly_render  render_html(), render_csv()

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
