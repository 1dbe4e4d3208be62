"""Server-rendered pages: the reviewer's approval queue (``/review``), dataset pages and previews.

This is the Chief Data Officer's screen in the demo. The forms post back here and call the same
:class:`~portal_emulator.approvals.Workflow` as the Approvals API, so both paths behave the same.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlparse

from fastapi import APIRouter
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .. import csrf, licenses
from ..auth import REALM, current_account
from ..config import Account
from ..errors import SocrataError
from ..render import approval_status, custom_fields
from ..soql import Compiler, run_query
from .common import anonymous_can_read, base_url, store, workflow

router = APIRouter()
_env = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
PREVIEW_ROWS = 100
PAGE_ROWS = 10


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC") if t else "—"


_env.filters["when"] = _when


def _web_link(url: object) -> str | None:
    """A publisher-supplied URL, only if it is a web address: escaping does not stop a
    ``javascript:`` link from running when clicked."""
    if not isinstance(url, str) or any(ord(c) < 0x20 for c in url):
        return None
    parsed = urlparse(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else None


_env.filters["web_link"] = _web_link


# Every page: never framed by another site (an Approve button under a decoy is clickjacking), no
# script or foreign resource at all (the pages have none; a javascript: link would do nothing),
# forms post only here, nothing cached (private rows, form tokens), no type sniffing.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(template: str, status: int = 200, headers: dict[str, str] | None = None, **ctx) -> HTMLResponse:
    return HTMLResponse(
        _env.get_template(template).render(**ctx), status_code=status, headers={**PAGE_HEADERS, **(headers or {})}
    )


def _refused(account: Account, message: str) -> HTMLResponse:
    return _page("message.html", 403, title="Refused", account=account, message=message)


def _from_another_site(request: Request) -> bool:
    """What the browser says about where a form was posted from, when it says anything: another
    origin (an ``Origin: null`` included) or a ``Sec-Fetch-Site`` other than same-origin. The
    form token is checked whatever this says: browsers may send neither header."""
    origin = request.headers.get("origin")
    if origin is not None and (origin == "null" or urlparse(origin).netloc != request.headers.get("host")):
        return True
    fetch_site = request.headers.get("sec-fetch-site")
    return fetch_site is not None and fetch_site != "same-origin"


def _challenge(request: Request, message: str) -> HTMLResponse:
    return _page(
        "message.html",
        401,
        {"WWW-Authenticate": REALM},
        title="Sign in required",
        message=message,
        hint=request.app.state.config.sign_in_hint,
        account=None,
    )


def _account(request: Request) -> Account | None | HTMLResponse:
    try:
        return current_account(request)
    except SocrataError:
        return _challenge(request, "Those credentials were not recognised. Sign in with a portal account.")


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    account = _account(request)
    if isinstance(account, Response):
        return account
    s = store(request)
    items = [
        (ds, approval_status(ds, s.approvals_for(ds.pk)))
        for ds in s.list_datasets()
        if account or anonymous_can_read(request, ds)
    ]
    return _page("home.html", account=account, items=items)


@router.get("/review", response_class=HTMLResponse)
def review_queue(
    request: Request, done: str | None = None, dataset: str | None = None, error: str | None = None
) -> Response:
    account = _account(request)
    if isinstance(account, Response):
        return account
    if account is None:
        return _challenge(request, "The approval queue is for reviewers. Sign in with a reviewer account.")
    if not account.can_review():
        return _page(
            "message.html",
            403,
            title="Reviewers only",
            account=account,
            message=f"{account.name} is a {account.role}; reviewing needs a reviewer or admin account.",
        )
    s = store(request)
    pending = list(reversed(s.approvals_where("a.state = 'pending'")))
    decided = s.approvals_where("a.state != 'pending'", limit=15)
    datasets = {a.dataset_id: s.get_dataset(a.dataset_id) for a in pending + decided}
    # The reviewer's page session: its forms carry a token only this session and account have.
    session_id = csrf.session_id_from(request.cookies.get(csrf.COOKIE))
    headers = {}
    if session_id is None:
        session_id = csrf.new_session_id()
        headers["Set-Cookie"] = csrf.cookie_header(session_id, secure=request.url.scheme == "https")
    return _page(
        "review.html",
        headers=headers,
        account=account,
        pending=pending,
        decided=decided,
        datasets=datasets,
        done=done,
        done_dataset=dataset,
        error=error,
        csrf_field=csrf.FIELD,
        csrf_token=csrf.token_for(request.app.state.csrf_key, session_id, account.name),
    )


@router.post("/review/{submission_id}")
async def review_decision(request: Request, submission_id: int) -> Response:
    account = _account(request)
    if isinstance(account, Response):
        return account
    if account is None or not account.can_review():
        return _challenge(request, "Reviewing needs a reviewer account.")
    if _from_another_site(request):
        # A cross-site form post riding on the browser's Basic credentials: refuse it.
        return _refused(account, "The form was posted from another site: nothing was decided.")
    form = await request.form()
    session_id = csrf.session_id_from(request.cookies.get(csrf.COOKIE))
    if not csrf.token_valid(request.app.state.csrf_key, session_id, account.name, form.get(csrf.FIELD)):
        # No token, a wrong one, or none of this session (another site's form, an old page).
        return _refused(
            account,
            "This form did not come from your review page in this session, or the page is out of date: "
            "nothing was decided. Open the approval queue again and decide there.",
        )
    decision = str(form.get("decision", ""))
    notes = str(form.get("notes", "")).strip()
    state = {"approve": "approved", "reject": "rejected"}.get(decision, decision)
    try:
        approval = await run_in_threadpool(
            workflow(request).review, None, submission_id, state, notes, account
        )
    except SocrataError as exc:
        return RedirectResponse(f"/review?{urlencode({'error': exc.message})}", status_code=303)
    return RedirectResponse(
        f"/review?{urlencode({'done': approval.state, 'dataset': approval.dataset_id})}", status_code=303
    )


def _readable(request: Request, dataset_id: str):
    account = _account(request)
    if isinstance(account, Response):
        return account, None
    ds = store(request).get_dataset(dataset_id)
    if ds is None:
        return _page(
            "message.html",
            404,
            title="Not found",
            account=account,
            message=f"There is no dataset {dataset_id} on this portal.",
        ), None
    if account is None and not anonymous_can_read(request, ds):
        return _challenge(request, "This dataset is not public. Sign in to see it."), None
    return account, ds


def _rows(request: Request, ds, n: int) -> tuple[list[str], list[list[str]]]:
    q = Compiler(ds.columns).compile({"$limit": str(n)})
    fields = [f for f, _ in q.columns]
    out = []
    for row in run_query(store(request).conn(), ds.pk, q):
        d = json.loads(row[3])
        out.append([_cell(d.get(f)) for f in fields])
    return fields, out


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else json.dumps(v)


@router.get("/d/{dataset_id}", response_class=HTMLResponse)
def dataset_page(request: Request, dataset_id: str) -> Response:
    account, ds = _readable(request, dataset_id)
    if ds is None:
        return account
    s = store(request)
    approvals = s.approvals_for(ds.pk)
    fields, rows = _rows(request, ds, PAGE_ROWS)
    return _page(
        "dataset.html",
        account=account,
        ds=ds,
        approvals=list(reversed(approvals)),
        approval_state=approval_status(ds, approvals),
        fields=fields,
        rows=rows,
        license=licenses.find(ds.doc.get("licenseId")),
        custom=custom_fields(ds),
        base=base_url(request),
    )


@router.get("/d/{dataset_id}/preview", response_class=HTMLResponse)
def preview_page(request: Request, dataset_id: str) -> Response:
    account, ds = _readable(request, dataset_id)
    if ds is None:
        return account
    fields, rows = _rows(request, ds, PREVIEW_ROWS)
    return _page("preview.html", account=account, ds=ds, fields=fields, rows=rows, limit=PREVIEW_ROWS)


@router.get("/{category}/{name}/{dataset_id}")
def dataset_link(category: str, name: str, dataset_id: str) -> Response:
    """Discovery's ``link`` (``/Category/Name/4x4``) leads to the dataset page."""
    if category in ("api", "views", "resource", "__emulator", "d"):
        raise SocrataError(404, "not_found", "Not found")
    return RedirectResponse(f"/d/{dataset_id}", status_code=302)
