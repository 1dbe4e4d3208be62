"""The Airflow plugin: the "Open Data" entry in the UI's navigation (Browse menu) and the FastAPI app
behind it.

Registered by ``plugins/opendata_ui_plugin.py`` (the plugins folder's only module Airflow scans,
see ``plugins/.airflowignore``). Every Airflow process loads plugins (a task process does, for
macros), so this module imports nothing heavy: the FastAPI app (FastAPI, Jinja2, the inventory)
is made when the API server first asks for :attr:`OpenDataUIPlugin.fastapi_apps`.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/opendata"
NAME = "Open Data"

# A small table icon (inline SVG: the UI loads nothing from elsewhere).
ICON = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' "
        "stroke='%235f6368' stroke-width='2'><rect x='3' y='4' width='18' height='16' rx='2'/>"
        "<path d='M3 9h18M3 14h18M9 9v11'/></svg>")


def _ui_root() -> str:
    """The path Airflow is served under (``[api] base_url``'s path, ``/`` by default)."""
    from opendata import settings
    from opendata.inventory.links import airflow_root

    return airflow_root(settings.airflow_base_url())


class _FastAPIApps:
    """``fastapi_apps``, made on first read (the API server's ``init_plugins``), once."""

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        from opendata.ui.app import get_app

        return [{"app": get_app(), "url_prefix": URL_PREFIX, "name": NAME}]


class _ExternalViews:
    """``external_views``: the navigation entry, pointing at the app (under Airflow's base path):
    **Browse > Open Data**, which opens the view in its own tab.

    Not embedded (no ``url_route``): Airflow 3.3 frames an embedded view in an iframe sandboxed
    ``allow-scripts allow-same-origin allow-forms allow-downloads``, from which no link can leave
    (no ``allow-top-navigation``, no ``allow-popups``): the Required Actions, DAG and portal links
    did nothing. Not a top-level entry either: Airflow 3.3.2 renders a top-level link entry as a
    ``<button href=...>``, which opens nothing. A menu entry is a real link (``tests/test_demo.py``
    clicks it, and the links of the view, in Chromium)."""

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        return [{"name": NAME, "href": f"{_ui_root()}{URL_PREFIX.lstrip('/')}/", "destination": "nav",
                 "category": "browse", "icon": ICON}]


class OpenDataUIPlugin(AirflowPlugin):
    name = "opendata_ui"
    fastapi_apps = _FastAPIApps()
    external_views = _ExternalViews()
