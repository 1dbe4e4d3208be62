"""HTTP Basic authentication against the configured accounts, as the portal does for API clients.

Anonymous callers may read public data only; unknown credentials are refused with 401 rather than
being treated as anonymous, so a misconfigured client fails loudly instead of seeing less data.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request

from .config import Account
from .errors import SocrataError, authentication_required, permission_denied

REALM = 'Basic realm="Socrata portal emulator"'


def _invalid() -> SocrataError:
    return SocrataError(
        401, "invalid_credentials", "Invalid username or password", headers={"WWW-Authenticate": REALM}
    )


def current_account(request: Request) -> Account | None:
    """The authenticated account, None for anonymous; raises 401 for bad credentials."""
    cached = request.scope.get("emulator.account", False)
    if cached is not False:
        return cached
    header = request.headers.get("authorization")
    account = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            # OAuth tokens are not issued by this emulator, so no token can be valid.
            raise _invalid()
        try:
            name, sep, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid() from None
        accounts = request.app.state.config.accounts
        candidate = accounts.get(name)
        # compare_digest on both branches keeps timing independent of whether the name exists.
        expected = candidate.password if candidate else "\0invalid"
        if not sep or not hmac.compare_digest(password.encode(), expected.encode()) or candidate is None:
            raise _invalid()
        account = candidate
    request.scope["emulator.account"] = account
    _record_app_token(request)
    return account


def _record_app_token(request: Request) -> None:
    token = request.headers.get("x-app-token") or request.query_params.get("$$app_token")
    if token:
        request.app.state.stats.app_token(token)


def sees_private(request: Request) -> Account | None:
    """The account whose private view applies: Discovery/Metadata need X-Socrata-Host when strict."""
    account = current_account(request)
    if (
        account
        and request.app.state.config.require_socrata_host
        and not request.headers.get("x-socrata-host")
    ):
        return None
    return account


def require_account(request: Request) -> Account:
    account = current_account(request)
    if account is None:
        raise authentication_required()
    return account


def require_writer(request: Request) -> Account:
    account = require_account(request)
    if not account.can_write():
        raise permission_denied()
    return account


def require_reviewer(request: Request) -> Account:
    account = require_account(request)
    if not account.can_review():
        raise permission_denied("You do not have the right to review approvals (review_public_approvals)")
    return account


def require_admin(request: Request) -> Account:
    account = require_account(request)
    if not account.is_admin():
        raise permission_denied("This emulator endpoint needs an admin account")
    return account
