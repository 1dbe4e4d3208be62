"""Where an HTTP source in a dataset file may point: one place that decides, for lint and at
run time.

A dataset file is written by a department and reviewed as data, so it must not be able to
make a worker fetch an arbitrary address (a cloud metadata service, an internal admin page) and
publish the answer. Hosts are therefore chosen by the deployment, never by the file alone:

* with ``conn_id`` the Airflow HTTP connection names the host, and ``url`` may only be a path
  on it (no scheme, no ``//host``, no credentials);
* without one, ``url`` must be an http(s) address whose host the deployment lists in
  ``OPENDATA_HTTP_SOURCE_HOSTS``.

Redirects are followed only within the same scheme, host and port (see sources/http.py).
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

# Far beyond any real endpoint; a longer one is a mistake or an attempt to provoke odd errors.
MAX_URL_CHARS = 2048


def _characters_problem(url: str) -> str | None:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return "contains a control character"
    if "\\" in url:
        return "contains a backslash"
    if len(url) > MAX_URL_CHARS:
        return f"is longer than {MAX_URL_CHARS} characters"
    return None


def http_url_problem(url: str, *, conn_id: str | None, allowed_hosts: Collection[str]) -> str | None:
    """What is wrong with an HTTP source's ``url`` (None: nothing). Pure."""
    problem = _characters_problem(url)
    if problem:
        return problem
    if conn_id is not None:
        if "://" in url or url.startswith("//") or "@" in url.split("?", 1)[0]:
            return (f"with conn_id the connection {conn_id!r} names the host: url must be a path on it "
                    "(e.g. /api/v1/records), not an address")
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid address"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// address (or give a conn_id)"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials: put them in an Airflow HTTP connection and give its conn_id"
    host = parts.hostname.lower()
    allowed = {h.strip().lower() for h in allowed_hosts if h.strip()}
    if host not in allowed and (f"{host}:{port}" if port else host) not in allowed:
        listed = ", ".join(sorted(allowed)) if allowed else "none"
        return (f"host {host!r} is not one the deployment allows dataset files to fetch from "
                f"(OPENDATA_HTTP_SOURCE_HOSTS: {listed}); use an Airflow HTTP connection (conn_id) or ask "
                "the administrator to list the host")
    return None


def same_origin(url: str, other: str) -> bool:
    """True when ``other`` has the scheme, host and port of ``url`` (a redirect that may be followed)."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
