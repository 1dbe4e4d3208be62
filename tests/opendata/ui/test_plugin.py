"""The plugin as Airflow's processes load it: the `airflow plugins` command lists it, and a
process that only loads plugins (a task, for macros) imports nothing heavy for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_airflow_plugins_lists_the_open_data_view():
    out = subprocess.run([sys.executable, "-m", "airflow", "plugins", "-o", "json"], capture_output=True, text=True,
                         env=os.environ.copy(), timeout=180, check=True)
    plugins = {p["name"]: p for p in json.loads(out.stdout[out.stdout.index("["):])}
    plugin = plugins["opendata_ui"]
    assert plugin["source"] == "$PLUGINS_FOLDER/opendata_ui_plugin.py"
    assert plugin["fastapi_apps"] == [{"app": "fastapi.applications.FastAPI", "url_prefix": "/opendata",
                                       "name": "Open Data"}]
    (view,) = plugin["external_views"]
    # A link in the Browse menu: no url_route, so not framed in Airflow's page (see plugin.py).
    assert view == {"name": "Open Data", "href": "/opendata/", "destination": "nav", "category": "browse",
                    "icon": view["icon"]}


def test_loading_the_plugin_imports_no_web_framework():
    code = ("import sys, airflow.sdk; from airflow.sdk import plugins_manager as pm; "
            "plugins, errors = pm._get_plugins(); assert not errors, errors; "
            "assert 'opendata_ui' in [p.name for p in plugins]; "
            "heavy = ('fastapi', 'opendata.ui.app', 'opendata.inventory.service'); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True,
                         env={**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins")})
    assert out.stdout.strip().splitlines()[-1] == "[]"
