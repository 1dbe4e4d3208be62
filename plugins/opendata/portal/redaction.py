"""Keep credentials out of logs, error messages and reprs.

Two tools:

* :func:`loggable_target` reduces a URL to its path plus an allow-listed query, so log lines and
  errors never carry ``$$app_token`` or any other query value that could be a secret.
* :class:`Redactor` scrubs known secret values (password, app token, and the ``user:password``
  pair in the base64 form the ``Authorization: Basic`` header uses, plus URL-encoded forms)
  from any text before it is logged or raised.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

REDACTED = "***"

#: Query parameters whose values are safe and useful in logs.
SAFE_QUERY_KEYS = frozenset(
    {
        "$limit",
        "$offset",
        "$order",
        "$select",
        "$where",
        "$group",
        "$q",
        "method",
        "value",
        "assetId",
        "limit",
        "offset",
        "page",
        "ids",
        "domains",
        "only",
        "show_visibility",
        "validateOnly",
        "strict",
        "nbe",
        "order",
    }
)


def loggable_target(url: str, *, include_query: bool = True) -> str:
    """Path of ``url`` plus its query with every non-allow-listed value replaced by ``***``.

    Never returns the scheme, host, userinfo or fragment.
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    if not include_query or not parts.query:
        return path
    pairs = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.startswith("$$"):  # $$app_token and other system parameters
            continue
        pairs.append((key, value if key in SAFE_QUERY_KEYS else REDACTED))
    if not pairs:
        return path
    return f"{path}?{urlencode(pairs, safe='$:*,()')}"


def url_path(url: str) -> str:
    """Only the path of ``url``."""
    return urlsplit(url).path or "/"


def basic_auth_token(username: str, password: str) -> str:
    """The base64 token an ``Authorization: Basic`` header carries for these credentials."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class Redactor:
    """Replace known secret strings with ``***``.

    Secrets shorter than 4 characters are ignored (they would shred ordinary words).
    """

    MIN_LENGTH = 4

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < self.MIN_LENGTH:
            return
        for form in (secret, quote(secret, safe=""), quote_plus(secret)):
            if len(form) >= self.MIN_LENGTH:
                self._secrets.add(form)

    def add_basic_auth(self, username: str | None, password: str | None) -> None:
        if username is None or not password:
            return
        token = basic_auth_token(username, password)
        self.add(token)
        self.add(f"{username}:{password}")

    def __len__(self) -> int:
        return len(self._secrets)

    def __bool__(self) -> bool:  # an empty redactor is still a valid redactor
        return True

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def redact(self, text: str) -> str:
        if not text or not self._secrets:
            return text
        # Longest first so that a secret containing another one is fully replaced.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
