"""The review page's forms carry a per-session token (the synchronizer-token defence against
cross-site request forgery).

The page signs reviewers in with HTTP Basic, which a browser sends with every request to the
portal, including a form another site makes it post: without more, that site could approve a
dataset in the reviewer's name. An ``Origin`` check alone is not enough (a browser may send
none, or ``Origin: null`` from a sandboxed frame or a ``data:`` page). So the page opens a
session, a random id in a ``SameSite=Strict``, ``HttpOnly`` cookie, and each form holds a token
derived from that session and the signed-in account. A decision is taken only with both, and
the token must match (compared in constant time). Another site can neither read the token from
the page nor make the browser send the cookie with its form.

The token is an HMAC of the session id and the account name under a key made when the portal
starts, so nothing is stored per session; a restart (new key) asks reviewers to reload the page.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

COOKIE = "portal_review_session"
FIELD = "csrf_token"
# The cookie is only needed by the queue and its forms.
COOKIE_PATH = "/review"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_id_from(cookie: str | None) -> str | None:
    """The session id in the cookie, if it is one this portal could have issued."""
    return cookie if cookie and _SESSION_ID.fullmatch(cookie) else None


def token_for(key: bytes, session_id: str, account_name: str) -> str:
    """The form token of one session of one account."""
    message = f"{session_id}\x00{account_name}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def token_valid(key: bytes, session_id: str | None, account_name: str, submitted: object) -> bool:
    """True only for the token of this session and account (constant-time comparison)."""
    if session_id is None or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(token_for(key, session_id, account_name).encode(), submitted.encode())


def cookie_header(session_id: str, *, secure: bool) -> str:
    """``Set-Cookie`` for a new session: no expiry (it ends with the browser session), sent only
    on same-site requests, invisible to scripts; ``Secure`` when the portal is served over https."""
    return (f"{COOKIE}={session_id}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))
