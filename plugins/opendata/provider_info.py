"""Provider metadata for the ``apache_airflow_provider`` entry point.

Airflow calls :func:`get_provider_info` while it initialises its configuration, so this module
must stay import-light: plain data only, no Airflow, requests or sodapy imports.

It registers the ``socrata`` connection type, backed by
:class:`opendata.portal.hook.SocrataHook`, with declarative UI metadata (``conn-fields`` for the
extra fields, ``ui-field-behaviour`` for hidden fields, labels and placeholders). Airflow 3.2+
reads these declaratively instead of calling the deprecated hook class methods.
"""

from __future__ import annotations

from typing import Any

#: Must equal the canonical distribution name in pyproject.toml; Airflow checks it.
PACKAGE_NAME = "civic-opendata"
SOCRATA_CONN_TYPE = "socrata"
SOCRATA_HOOK_CLASS = "opendata.portal.hook.SocrataHook"


def _int_field(label: str, default: int | float, description: str, number: bool = False) -> dict[str, Any]:
    return {
        "label": label,
        "description": description,
        "schema": {"type": ["number" if number else "integer", "null"], "default": default},
    }


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager expects."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "City open data (Socrata)",
        "description": "Publishes a city's open data to a Socrata (Tyler Data & Insights) portal.",
        "integrations": [
            {
                "integration-name": "Socrata",
                "external-doc-url": "https://dev.socrata.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Socrata",
                "python-modules": ["opendata.portal.hook"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": SOCRATA_HOOK_CLASS,
                "hook-name": "Socrata",
                "connection-type": SOCRATA_CONN_TYPE,
                "conn-fields": {
                    "app_token": {
                        "label": "App token",
                        "description": "Socrata application token, sent as the X-App-Token header.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "connect_timeout": _int_field(
                        "Connect timeout (s)", 10, "Seconds to wait for the TCP/TLS connection.", number=True
                    ),
                    "read_timeout": _int_field(
                        "Read timeout (s)",
                        300,
                        "Seconds to wait for a response; large upserts can take minutes.",
                        number=True,
                    ),
                    "max_retries": _int_field(
                        "Max retries",
                        6,
                        "Retries after the first attempt on 429, 5xx, 202 and network errors.",
                    ),
                    "backoff_base": _int_field(
                        "Backoff base (s)", 1, "First retry delay; it doubles on each retry.", number=True
                    ),
                    "backoff_max": _int_field(
                        "Backoff cap (s)", 60, "Upper bound of one retry delay.", number=True
                    ),
                    "chunk_size": _int_field("Rows per upsert request", 10000, "Rows sent per request."),
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Portal domain",
                        "login": "API key ID or username",
                        "password": "API key secret or password",
                    },
                    "placeholders": {
                        "host": "https://data.lacity.org",
                        "login": "API key ID",
                        "password": "API key secret",
                        "extra": '{"app_token": "...", "read_timeout": 300, "chunk_size": 10000}',
                    },
                },
            }
        ],
    }
