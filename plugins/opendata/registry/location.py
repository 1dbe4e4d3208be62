"""Where the publication registry is configured, and how to name it without its password.

Three places, in this order: the ``OPENDATA_REGISTRY_URL`` environment variable, the Airflow
connection ``opendata_registry``, else a SQLite file in the state folder. Every message about
the registry names the place and shows the URL masked, so an operator knows what to fix and a
task log or an e-mail never carries the registry's password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import sqlalchemy as sa

from opendata import settings

ENV_VAR = settings.REGISTRY_URL_VAR
CONN_ID = "opendata_registry"
DEFAULT_FILE = "registry.sqlite"

# Query parameters that can carry a secret (libpq accepts ?password=..., ?sslpassword=...).
_SECRET_PARAM = re.compile(r"pass|secret|token|key", re.IGNORECASE)
# user:password@ in a URL SQLAlchemy could not parse (a fallback; parsed URLs are masked properly).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*):(?P<password>[^@/]*)@")
MASK = "***"


@dataclass(frozen=True)
class RegistryLocation:
    """A registry URL and where it was configured (said in every error about the registry)."""

    url: str
    #: Where the URL came from, as a phrase: "OPENDATA_REGISTRY_URL", "the Airflow connection ...";
    #: None for a URL handed over directly (``Registry(url)``).
    source: str | None = None
    #: The SQLite file of the embedded default (None when the URL was configured).
    default_file: Path | None = None

    @property
    def shown(self) -> str:
        """The URL as it may be shown: password and secret query parameters masked."""
        return masked_url(self.url)

    def describe(self) -> str:
        """Where the registry is configured, for messages: never the password."""
        if self.default_file is not None:
            return (f"the default SQLite file {self.default_file} in the state folder; set {ENV_VAR} or the "
                    f"Airflow connection {CONN_ID} to use another registry")
        if self.source is None:
            return f"at {self.shown}"
        return f"configured by {self.source} as {self.shown}"


def masked_url(url: str) -> str:
    """``url`` with its password and any secret-looking query parameter replaced by ``***``."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception:  # noqa: BLE001 - an unparsable URL is still masked, by pattern
        return mask_userinfo(url)
    if parsed.query:
        parsed = parsed.set(query={key: (MASK if _SECRET_PARAM.search(key) else value)
                                   for key, value in parsed.query.items()})
    # render_as_string percent-encodes the mask inside the query string; show it as written.
    return parsed.render_as_string(hide_password=True).replace(quote(MASK, safe=""), MASK)


def mask_userinfo(text: str) -> str:
    """Every ``scheme://user:password@`` in free text with the password masked."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}:{MASK}@", text)


def secrets_of(url: str) -> list[str]:
    """The secret values in ``url`` (password, secret query parameters), as written and decoded,
    so that text quoting them (a driver's error message) can be scrubbed."""
    values: list[str] = []
    try:
        parsed = sa.engine.make_url(url)
        if parsed.password:
            values.append(str(parsed.password))
        for key, value in parsed.query.items():
            if _SECRET_PARAM.search(key):
                values += [value] if isinstance(value, str) else list(value)
    except Exception:  # noqa: BLE001 - fall back to the pattern
        match = _USERINFO.search(url)
        if match and match["password"]:
            values.append(unquote(match["password"]))
    spelled = set()
    for value in values:
        if value:
            spelled |= {value, quote(value, safe=""), quote_plus(value, safe="")}
    # Longest first, so a value is never left half-masked by one of its own encodings.
    return sorted(spelled, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` without any secret of ``url`` in it (nor the URL unmasked)."""
    text = text.replace(url, masked_url(url))
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return text


def default_location() -> RegistryLocation:
    path = settings.state_dir() / DEFAULT_FILE
    return RegistryLocation(f"sqlite:///{path}", "the default SQLite file", default_file=path)


def locate(dataset_id: str | None = None) -> RegistryLocation:
    """Where the registry lives: env, then the Airflow connection, then the local SQLite file.

    Only a connection reported as not defined falls back to the local file; any other failure
    to read it raises: a task that silently wrote to a local file instead of the production
    registry would not find the datasets it published and could create them a second time.
    (Airflow's SDK reports a secrets backend that fails as "not defined"; production sets
    ``OPENDATA_REGISTRY_URL``, which needs no lookup.)
    """
    from opendata.registry.errors import RegistryUnavailable

    url = settings.registry_url()
    if url:
        return RegistryLocation(url, ENV_VAR)
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # Airflow is not installed here: only the embedded default is possible
        return default_location()
    try:
        return RegistryLocation(BaseHook.get_connection(CONN_ID).get_uri(), f"the Airflow connection {CONN_ID}")
    except AirflowNotFoundException:
        return default_location()
    except Exception as exc:  # noqa: BLE001 - reported, never swallowed (see above)
        # The error may quote the connection's URI: masked like any URL.
        reason = mask_userinfo(" ".join(str(exc).split()))[:300] or type(exc).__name__
        prefix = f"{dataset_id}: " if dataset_id else ""
        failure = RegistryUnavailable(
            f"{prefix}the publication registry's Airflow connection {CONN_ID} could not be read "
            f"({type(exc).__name__}: {reason}); set {ENV_VAR} or fix the connection", dataset_id=dataset_id)
    raise failure
