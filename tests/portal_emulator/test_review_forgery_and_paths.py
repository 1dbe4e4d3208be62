"""The CDO's review page refuses forged decisions, and no path can drop the connection.

A browser sends the reviewer's Basic credentials with any form another site makes it post, and
may send no ``Origin`` (or ``Origin: null``). Only a form from the review page, carrying the token
of the reviewer's page session (cookie), decides anything. A control character in a dataset id
(``%00``, ``%0A``...) anywhere in a path gets a Socrata-shaped 400, never a dropped connection.
All against a real emulator process.
"""

from __future__ import annotations

import re

import pytest
import requests

from portal_emulator import csrf
from portal_emulator.errors import error_response

from .conftest import new_dataset

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def pending(emu, client, name: str) -> str:
    ds = new_dataset(client, name)
    client.set_permission(ds, "public")  # asks for approval: pending in the queue
    return ds


def page_session(emu, role: str = "reviewer") -> tuple[requests.Session, str]:
    """A reviewer's browser: credentials, the queue loaded (session cookie), its form token."""
    browser = requests.Session()
    browser.auth = emu.auth(role)
    page = browser.get(f"{emu.url}/review")
    assert page.status_code == 200
    return browser, TOKEN.search(page.text).group(1)


def submission_of(browser: requests.Session, emu, dataset_id: str) -> str:
    page = browser.get(f"{emu.url}/review").text
    card = page[page.index(f'href="/d/{dataset_id}"') :]
    return re.search(r'action="/review/(\d+)"', card).group(1)


def state_of(emu, client, dataset_id: str) -> str:
    return client.get_metadata(dataset_id)["approvals"][-1]["state"]


def decide(browser, emu, submission: str, token: str | None, headers: dict | None = None, **extra):
    data = {"decision": "approve", "notes": "forged?", **extra}
    if token is not None:
        data["csrf_token"] = token
    return browser.post(f"{emu.url}/review/{submission}", data=data, headers=headers or {}, allow_redirects=False)


@pytest.mark.parametrize("origin", [None, "null", "same-origin"])
def test_a_post_without_the_form_token_decides_nothing_whatever_the_origin(emu, client, origin):
    ds = pending(emu, client, f"Forged without token ({origin})")
    browser, _ = page_session(emu)  # the reviewer has the queue open: the cookie is there too
    submission = submission_of(browser, emu, ds)
    headers = {} if origin is None else {"Origin": emu.url if origin == "same-origin" else origin}

    refused = decide(browser, emu, submission, None, headers)
    assert refused.status_code == 403 and "nothing was decided" in refused.text
    assert state_of(emu, client, ds) == "pending"
    assert not any("public" in grant.get("flags", []) for grant in client.get_metadata(ds)["grants"])


def test_a_wrong_token_or_another_sessions_token_decides_nothing(emu, client):
    ds = pending(emu, client, "Forged with a wrong token")
    browser, token = page_session(emu)
    other_browser, other_token = page_session(emu)  # the same reviewer, another session
    admin_browser, admin_token = page_session(emu, "admin")  # another account that may review
    submission = submission_of(browser, emu, ds)
    assert token != other_token != admin_token

    for attempt in (other_token, admin_token, "0" * 64, token[:-1] + ("0" if token[-1] != "0" else "1"), "",
                    token.upper()):
        assert decide(browser, emu, submission, attempt).status_code == 403, attempt
    # The right token without its session cookie (a forged form: the cookie is SameSite=Strict).
    cookieless = requests.Session()
    cookieless.auth = emu.auth("reviewer")
    assert decide(cookieless, emu, submission, token).status_code == 403
    # A token of the session, posted by another account's credentials.
    browser_as_admin = requests.Session()
    browser_as_admin.auth = emu.auth("admin")
    browser_as_admin.cookies.update(browser.cookies)
    assert decide(browser_as_admin, emu, submission, token).status_code == 403
    assert state_of(emu, client, ds) == "pending"

    # The page's own form, in its session, decides.
    done = decide(browser, emu, submission, token, notes="Checked the dictionary")
    assert done.status_code == 303 and done.headers["Location"].startswith("/review?done=approved")
    assert state_of(emu, client, ds) == "approved"


def test_another_site_is_refused_even_with_a_stolen_token(emu, client):
    ds = pending(emu, client, "Cross-site with a token")
    browser, token = page_session(emu)
    submission = submission_of(browser, emu, ds)
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}):
        assert decide(browser, emu, submission, token, headers).status_code == 403, headers
    assert state_of(emu, client, ds) == "pending"


def test_the_session_cookie_and_the_page_headers(emu, client):
    ds = pending(emu, client, "Cookie attributes")
    reviewer = requests.Session()
    reviewer.auth = emu.auth("reviewer")
    first = reviewer.get(f"{emu.url}/review")
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{csrf.COOKIE}=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/review"} <= {part.strip() for part in cookie.split(";")}
    forms = first.text.count('method="post"')
    assert forms >= 1 and len(TOKEN.findall(first.text)) == forms  # every form carries the token
    assert "Set-Cookie" not in reviewer.get(f"{emu.url}/review").headers  # one session, kept
    headers = first.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    assert ds in first.text


def test_a_javascript_attribution_link_is_not_a_link(emu, client):
    ds = new_dataset(client, "Attribution link", attributionLink="javascript:alert(document.cookie)")
    page = requests.get(f"{emu.url}/d/{ds}", auth=emu.auth("reviewer")).text
    assert "javascript:" not in page
    safe = new_dataset(client, "Attribution web link", attributionLink="https://dbs.lacity.example/")
    assert 'href="https://dbs.lacity.example/"' in requests.get(f"{emu.url}/d/{safe}", auth=emu.auth("reviewer")).text


@pytest.mark.parametrize("path", [
    "/api/views/ab%00cd.json",
    "/resource/x%00.json",
    "/d/x%00",
    "/d/x%00/preview",
    "/api/views/metadata/v1/ab%00cd",
    "/api/views/ab%01cd/approvals",
    "/api/publishing/v1/revision/ab%00cd",
    "/resource/x%0D%0AForged:%20line.json",
    "/d/tab%09id",
    "/Housing/Name/ab%7Fcd",
    "/api/views/ab%C2%85cd.json",  # NEL, a C1 control
    "/review/1%00",
    "/__emulator/health%00",
])
@pytest.mark.parametrize("role", [None, "publisher"])
def test_a_control_character_in_a_path_is_a_400(emu, path, role):
    session = emu.session(role) if role else requests.Session()
    for method in ("GET", "POST"):
        answer = session.request(method, f"{emu.url}{path}", timeout=10)
        assert answer.status_code == 400, (method, path, answer.status_code)
        assert answer.json() == {"code": "invalid_request", "error": True, "data": {},
                                 "message": "Invalid request: the path holds a control character (such as %00)"}
        assert answer.headers["X-Error-Code"] == "invalid_request"


def test_a_nul_in_a_row_id_of_an_existing_dataset_no_longer_drops_the_connection(emu, client):
    ds = new_dataset(client, "Row ids")
    answer = requests.get(f"{emu.url}/resource/{ds}/a%00b.json", auth=emu.auth("publisher"), timeout=10)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_request"
    # The emulator carries on, and its access log holds no forged line.
    requests.get(f"{emu.url}/resource/x%0D%0AForged:%20line.json", timeout=10)
    assert requests.get(f"{emu.url}/resource/{ds}.json", auth=emu.auth("publisher"), timeout=10).status_code == 200
    log = emu.log_path.read_text()
    assert "Forged:" not in "".join(line for line in log.splitlines() if not line.startswith("20"))
    assert "/resource/x%0D%0AForged:%20line.json 400" in log


def test_an_error_message_quoting_a_control_character_is_still_sent():
    """The header copy of the message is made safe; the JSON body keeps it exactly."""
    response = error_response(404, "row.missing", "Row a\x00b\r\nX-Forged: 1 not found")
    assert response.headers["X-Error-Message"] == "Row a?b??X-Forged: 1 not found"
    assert b"a\\u0000b\\r\\nX-Forged" in response.body
