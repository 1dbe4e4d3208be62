"""``GET /api/users/current.json``: who the credentials belong to.

dev.socrata.com (``docs/authentication.md``, "Who am I?") documents the endpoint but not its
answer. The emulator answers the keys user objects carry elsewhere in the reference (``id``,
``displayName``, ``screenName``, as in a view's ``owner``) plus ``roleName`` and ``rights``;
clients should read it leniently. No ``email``: the emulator knows none.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..auth import require_account
from .common import json_response

router = APIRouter()

# Socrata-style role names and rights for the emulator's three roles. The right names follow the
# ones the reference quotes (``review_public_approvals``); the rest are this emulator's choice.
ROLE_NAMES = {"publisher": "publisher", "reviewer": "approver", "admin": "administrator"}
_PUBLISHER_RIGHTS = ["create_datasets", "edit_others_datasets", "view_unpublished_datasets"]
_REVIEWER_RIGHTS = [*_PUBLISHER_RIGHTS, "review_public_approvals", "review_internal_approvals"]
RIGHTS = {
    "publisher": _PUBLISHER_RIGHTS,
    "reviewer": _REVIEWER_RIGHTS,
    "admin": [*_REVIEWER_RIGHTS, "manage_users", "edit_site_theme"],
}


@router.get("/api/users/current.json")
def current_user(request: Request) -> Response:
    # Wrong credentials were already refused with 401 by the router's dependency; anonymous
    # callers get the portal's 403 "You must be logged in".
    account = require_account(request)
    return json_response(
        {
            "id": account.user_id,
            "displayName": account.name,
            "screenName": account.name,
            "roleName": ROLE_NAMES[account.role],
            "rights": RIGHTS[account.role],
        }
    )
