"""The "Open Data" view in the Airflow UI: an Airflow plugin (a FastAPI app the API server mounts
at ``/opendata``, and an entry in the UI's navigation), served behind Airflow's own sign-in.

    plugin      OpenDataUIPlugin: the AirflowPlugin (``plugins/opendata_ui_plugin.py`` registers it)
    app         create_app(): the pages (inventory, dataset, timeline, data.json, quarterly report)
    charts      inline SVG charts of a dataset's rows and refresh punctuality (escaped, no scripts)

The plugin module stays cheap to import (every Airflow process loads plugins): the app and its
imports load only when the API server asks for the plugin's FastAPI apps.
"""
