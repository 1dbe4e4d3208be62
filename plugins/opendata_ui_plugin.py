"""Registers the "Open Data" view with Airflow: this folder is Airflow's plugins folder, and this is
the one module its plugin scan imports (``.airflowignore`` keeps it out of the packages).

The plugin itself is ``opendata.ui.plugin.OpenDataUIPlugin`` (the project's package, installed);
an ``airflow.plugins`` entry point would need ``pyproject.toml``, so it is registered here.
"""

from opendata.ui.plugin import OpenDataUIPlugin

__all__ = ["OpenDataUIPlugin"]
