"""Parse an Airflow ``socrata`` connection into validated, typed settings.

Connection fields:

* ``host``: the portal domain. ``data.lacity.org`` and ``https://data.lacity.org`` both mean
  HTTPS. ``http://`` is accepted only for loopback hosts (the local emulator, e.g.
  ``http://127.0.0.1:8123``) unless the extra ``allow_insecure_http`` is true, because Basic
  credentials would otherwise cross the network in clear text. A path after the host is ignored.
* ``port``: optional, used when ``host`` has no port.
* ``login`` / ``password``: API key id and secret (recommended) or username and password, sent
  as HTTP Basic. Both empty means anonymous (reads of public data only).
* ``extra`` (JSON), all optional: see :data:`EXTRA_DEFAULTS` and :class:`SocrataConnectionConfig`.

Extra keys are also accepted with the legacy ``extra__socrata__`` prefix.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from opendata.portal.errors import SocrataConfigError
from opendata.portal.retry import RetryPolicy

CONN_TYPE = "socrata"
DEFAULT_CONN_ID = "socrata_default"

#: Defaults of the connection's extra fields.
EXTRA_DEFAULTS: dict[str, Any] = {
    "app_token": None,
    "connect_timeout": 10.0,
    "read_timeout": 300.0,
    "max_retries": 6,
    "backoff_base": 1.0,
    "backoff_max": 60.0,
    "retry_after_max": 300.0,
    "chunk_size": 10_000,
    "page_size": 10_000,
    "socrata_host": None,
    "allow_insecure_http": False,
    # Whether approving a public-audience request makes the asset public at once (Socrata's
    # behaviour). The pipeline then holds the request until a dataset's planned go-live.
    "approval_changes_audience": True,
    # How long a publication may take to show after the portal accepted it (202 while copying).
    "publish_wait_seconds": 120.0,
    # After a create with an unknown outcome: how long to look for the asset by its marker.
    "create_lookup_seconds": 30.0,
    # How long the Discovery API may take to list a new asset. A create whose outcome is unknown
    # is not tried again before this (a second asset is worse than a late one).
    "catalog_lag_seconds": 900.0,
    # How long an anonymous read may take to see a dataset that was just made public.
    "visibility_wait_seconds": 120.0,
}

_KNOWN_EXTRAS = frozenset(EXTRA_DEFAULTS)
_MAX_CHUNK = 100_000


@dataclass(frozen=True)
class SocrataConnectionConfig:
    """Validated connection settings. Secret fields are excluded from ``repr``.

    :param domain: ``host[:port]`` without scheme, e.g. ``data.lacity.org``.
    :param scheme: ``https`` or ``http``.
    :param username: API key id or username (``None`` for anonymous).
    :param password: API key secret or password.
    :param app_token: application token, sent as ``X-App-Token``.
    :param connect_timeout: seconds to establish a connection.
    :param read_timeout: seconds to wait for a response (upserts of 10,000 rows can take minutes).
    :param max_retries: retries after the first attempt.
    :param backoff_base: first backoff cap in seconds, doubled on each retry.
    :param backoff_max: largest backoff cap in seconds.
    :param retry_after_max: largest wait honoured from a ``Retry-After`` header.
    :param chunk_size: rows per upsert/replace request.
    :param page_size: rows per paged read request.
    :param socrata_host: value of ``X-Socrata-Host``; defaults to ``domain``.
    :param approval_changes_audience: approving a public-audience request makes the asset public.
    :param publish_wait_seconds: how long a publication may take to show once accepted.
    :param create_lookup_seconds: after a create with an unknown outcome, how long to look for it.
    :param catalog_lag_seconds: how long the catalog may take to list a new asset; a create with
        an unknown outcome is not tried again sooner.
    :param visibility_wait_seconds: how long an anonymous read may take to see a new public dataset.
    """

    domain: str
    scheme: str = "https"
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    connect_timeout: float = EXTRA_DEFAULTS["connect_timeout"]
    read_timeout: float = EXTRA_DEFAULTS["read_timeout"]
    max_retries: int = EXTRA_DEFAULTS["max_retries"]
    backoff_base: float = EXTRA_DEFAULTS["backoff_base"]
    backoff_max: float = EXTRA_DEFAULTS["backoff_max"]
    retry_after_max: float = EXTRA_DEFAULTS["retry_after_max"]
    chunk_size: int = EXTRA_DEFAULTS["chunk_size"]
    page_size: int = EXTRA_DEFAULTS["page_size"]
    socrata_host: str | None = None
    approval_changes_audience: bool = True
    publish_wait_seconds: float = EXTRA_DEFAULTS["publish_wait_seconds"]
    create_lookup_seconds: float = EXTRA_DEFAULTS["create_lookup_seconds"]
    catalog_lag_seconds: float = EXTRA_DEFAULTS["catalog_lag_seconds"]
    visibility_wait_seconds: float = EXTRA_DEFAULTS["visibility_wait_seconds"]

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def host_header(self) -> str:
        """Value for ``X-Socrata-Host``."""
        return self.socrata_host or self.domain

    @property
    def has_credentials(self) -> bool:
        return bool(self.username and self.password)

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` as requests expects it."""
        return (self.connect_timeout, self.read_timeout)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            retry_after_max=self.retry_after_max,
        )

    def secrets(self) -> list[str]:
        """Every secret value this configuration holds (for redaction and log masking)."""
        return [s for s in (self.password, self.app_token) if s]

    @classmethod
    def from_connection(cls, conn: Any) -> SocrataConnectionConfig:
        """Build from an Airflow ``Connection`` (anything with host/port/login/password/extra)."""
        extra = getattr(conn, "extra_dejson", None)
        if extra is None:
            raw = getattr(conn, "extra", None)
            extra = _load_extra(raw)
        return cls.from_parts(
            host=getattr(conn, "host", None),
            port=getattr(conn, "port", None),
            login=getattr(conn, "login", None),
            password=getattr(conn, "password", None),
            extra=extra,
            schema=getattr(conn, "schema", None),
        )

    @classmethod
    def from_parts(
        cls,
        *,
        host: str | None,
        port: int | None = None,
        login: str | None = None,
        password: str | None = None,
        extra: Mapping[str, Any] | None = None,
        schema: str | None = None,
    ) -> SocrataConnectionConfig:
        extras = normalize_extra(extra or {})
        scheme, domain = parse_portal_host(host, port=port, schema=schema)
        if scheme == "http" and not is_loopback(domain) and not _as_bool(extras["allow_insecure_http"]):
            raise SocrataConfigError(
                f"Refusing plain http:// to non-loopback host {domain!r}: credentials would be sent "
                "unencrypted. Use https, or set extra allow_insecure_http=true for a trusted test portal."
            )
        login = login or None
        password = password or None
        if bool(login) != bool(password):
            raise SocrataConfigError(
                "Socrata connection needs both login and password (API key id and secret), or neither."
            )
        app_token = extras["app_token"] or None
        if app_token is not None and not isinstance(app_token, str):
            raise SocrataConfigError("extra app_token must be a string")
        return cls(
            domain=domain,
            scheme=scheme,
            username=login,
            password=password,
            app_token=app_token,
            connect_timeout=_positive_float(extras, "connect_timeout"),
            read_timeout=_positive_float(extras, "read_timeout"),
            max_retries=_non_negative_int(extras, "max_retries"),
            backoff_base=_non_negative_float(extras, "backoff_base"),
            backoff_max=_non_negative_float(extras, "backoff_max"),
            retry_after_max=_non_negative_float(extras, "retry_after_max"),
            chunk_size=_chunk(extras, "chunk_size"),
            page_size=_chunk(extras, "page_size"),
            socrata_host=(str(extras["socrata_host"]).strip() or None) if extras["socrata_host"] else None,
            approval_changes_audience=_as_bool(extras["approval_changes_audience"]),
            publish_wait_seconds=_non_negative_float(extras, "publish_wait_seconds"),
            create_lookup_seconds=_non_negative_float(extras, "create_lookup_seconds"),
            catalog_lag_seconds=_non_negative_float(extras, "catalog_lag_seconds"),
            visibility_wait_seconds=_non_negative_float(extras, "visibility_wait_seconds"),
        )


def _load_extra(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise SocrataConfigError("Connection extra is not valid JSON") from err
    if not isinstance(value, dict):
        raise SocrataConfigError("Connection extra must be a JSON object")
    return value


def normalize_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Strip the ``extra__socrata__`` prefix, drop empty values, fill defaults."""
    out = dict(EXTRA_DEFAULTS)
    prefix = f"extra__{CONN_TYPE}__"
    for key, value in extra.items():
        name = key[len(prefix) :] if key.startswith(prefix) else key
        if value is None or value == "":
            continue
        if name in _KNOWN_EXTRAS:
            out[name] = value
    return out


def parse_portal_host(
    host: str | None, *, port: int | None = None, schema: str | None = None
) -> tuple[str, str]:
    """Return ``(scheme, "host[:port]")`` from the connection's host field.

    >>> parse_portal_host("data.lacity.org")
    ('https', 'data.lacity.org')
    >>> parse_portal_host("https://data.lacity.org/")
    ('https', 'data.lacity.org')
    >>> parse_portal_host("http://127.0.0.1:8123")
    ('http', '127.0.0.1:8123')
    """
    if not host or not str(host).strip():
        raise SocrataConfigError("Socrata connection has no host (the portal domain, e.g. data.lacity.org)")
    text = str(host).strip()
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
    else:
        hinted = (schema or "").strip().lower()
        scheme = hinted if hinted in ("http", "https") else "https"
        parts = urlsplit(f"//{text}")
    if scheme not in ("http", "https"):
        raise SocrataConfigError(f"Unsupported scheme {scheme!r} in Socrata host; use https")
    if parts.username or parts.password:
        raise SocrataConfigError("Put credentials in login/password, not in the host URL")
    hostname = parts.hostname
    if not hostname:
        raise SocrataConfigError("Socrata host has no hostname")
    try:
        url_port = parts.port
    except ValueError as err:
        raise SocrataConfigError("Socrata host has an invalid port") from err
    final_port = url_port or (int(port) if port else None)
    shown = f"[{hostname}]" if ":" in hostname else hostname
    default_port = 443 if scheme == "https" else 80
    domain = shown if final_port in (None, default_port) else f"{shown}:{final_port}"
    return scheme, domain


def is_loopback(domain: str) -> bool:
    """True when ``host[:port]`` names this machine."""
    parts = urlsplit(f"//{domain}")
    name = (parts.hostname or "").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _number(extras: Mapping[str, Any], key: str) -> float:
    value = extras[key]
    if isinstance(value, bool):
        raise SocrataConfigError(f"extra {key} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise SocrataConfigError(f"extra {key} must be a number, got {value!r}") from err


def _positive_float(extras: Mapping[str, Any], key: str) -> float:
    value = _number(extras, key)
    if not value > 0:
        raise SocrataConfigError(f"extra {key} must be > 0")
    return value


def _non_negative_float(extras: Mapping[str, Any], key: str) -> float:
    value = _number(extras, key)
    if not value >= 0:
        raise SocrataConfigError(f"extra {key} must be >= 0")
    return value


def _non_negative_int(extras: Mapping[str, Any], key: str) -> int:
    value = _number(extras, key)
    if value < 0 or value != int(value):
        raise SocrataConfigError(f"extra {key} must be a non-negative integer")
    return int(value)


def _chunk(extras: Mapping[str, Any], key: str) -> int:
    value = _non_negative_int(extras, key)
    if not 1 <= value <= _MAX_CHUNK:
        raise SocrataConfigError(f"extra {key} must be between 1 and {_MAX_CHUNK}")
    return value
