"""The reviewer's side (``/review`` page, ``review`` CLI), dataset pages, restarts, accounts and logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests

from portal_emulator.testing import run_emulator

from .conftest import http, make_public, new_dataset, sodapy_client


def _cli(emu, *args, password="cdo-secret", user="cdo"):
    env = {**os.environ, "REVIEWER_PW": password}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "portal_emulator",
            "review",
            "--url",
            emu.url,
            "--user",
            user,
            "--password-env",
            "REVIEWER_PW",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_review_page_lists_and_approves(emu, client):
    ds = new_dataset(client, "Street trees")
    client.upsert(ds, [{"permit_id": "T1", "amount": 3}])
    client.set_permission(ds, "public")

    assert requests.get(f"{emu.url}/review").status_code == 401  # browser login challenge
    assert requests.get(f"{emu.url}/review").headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(f"{emu.url}/review", auth=emu.auth("publisher")).status_code == 403

    reviewer = requests.Session()
    reviewer.auth = emu.auth("reviewer")
    page = reviewer.get(f"{emu.url}/review")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Street trees" in page.text and ds in page.text and "publisher" in page.text
    assert f'href="/d/{ds}"' in page.text and f'href="/d/{ds}/preview"' in page.text
    submission = re.search(r'action="/review/(\d+)"', page.text).group(1)
    # The form's per-session token, as a browser posts it back (with the session cookie).
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)

    done = reviewer.post(
        f"{emu.url}/review/{submission}",
        data={"decision": "approve", "notes": "Good to go", "csrf_token": token},
    )
    assert done.status_code == 200 and "approved" in done.text  # followed the 303 back to the queue
    view = client.get_metadata(ds)
    assert view["grants"][0]["flags"] == ["public"]
    assert "notes" not in view["approvals"][-1]  # the API never returns the reviewer's notes...
    assert "Good to go" in reviewer.get(f"{emu.url}/review").text  # ...the queue's recent decisions do

    # A second decision on the same request reports an error instead of failing.
    again = reviewer.post(
        f"{emu.url}/review/{submission}", data={"decision": "reject", "notes": "", "csrf_token": token}
    )
    assert again.status_code == 200 and "already" in again.text


def test_dataset_pages(emu, client):
    private = new_dataset(client, "Private page")
    client.upsert(private, [{"permit_id": "secret-row"}])
    assert requests.get(f"{emu.url}/d/{private}").status_code == 401
    page = requests.get(f"{emu.url}/d/{private}", auth=emu.auth("reviewer"))
    assert page.status_code == 200 and "secret-row" in page.text and "Approval history" in page.text
    preview = requests.get(f"{emu.url}/d/{private}/preview", auth=emu.auth("reviewer"))
    assert preview.status_code == 200 and "secret-row" in preview.text
    public = new_dataset(client, "Public page")
    make_public(emu, client, public)
    assert requests.get(f"{emu.url}/d/{public}").status_code == 200
    home = requests.get(f"{emu.url}/")
    assert "Public page" in home.text and "Private page" not in home.text
    link = client.datasets(ids=[public])[0]["link"]
    assert requests.get(link).url.endswith(f"/d/{public}")


def test_review_cli_lists_approves_and_rejects(emu, client):
    first = new_dataset(client, "CLI approve me")
    second = new_dataset(client, "CLI reject me")
    for ds in (first, second):
        client.set_permission(ds, "public")

    listed = _cli(emu, "list")
    assert listed.returncode == 0, listed.stderr
    assert first in listed.stdout and "CLI reject me" in listed.stdout and "publisher" in listed.stdout

    approved = _cli(emu, "approve", first, "--notes", "Approved from the CLI")
    assert approved.returncode == 0, approved.stderr
    rejected = _cli(emu, "reject", second, "--notes", "Missing data dictionary")
    assert rejected.returncode == 0, rejected.stderr
    assert client.get_metadata(first)["grants"][0]["flags"] == ["public"]
    last = client.get_metadata(second)["approvals"][-1]
    assert last["state"] == "rejected" and "notes" not in last
    assert "Missing data dictionary" in requests.get(f"{emu.url}/review", auth=emu.auth("reviewer")).text

    assert _cli(emu, "approve", second).returncode == 1  # nothing pending any more
    assert _cli(emu, "list", password="wrong").returncode != 0
    assert _cli(emu, "approve", first, user="publisher", password="publisher-secret").returncode != 0


def test_state_survives_restart_and_secrets_stay_out_of_logs(tmp_path):
    with run_emulator(tmp_path) as emu:
        with sodapy_client(emu) as client:
            ds = new_dataset(client, "Durable")
            client.upsert(ds, [{"permit_id": f"D{i}"} for i in range(20)])
            client.publish(ds)
            client.set_permission(ds, "public")
            emu.review(ds, "rejected", notes="first try")
            client.set_permission(ds, "public")
            emu.set_comments(ds, 2)
            before = client.get_metadata(ds)
            emu.restart()
            after = client.get_metadata(ds)
            assert after == before
            assert len(client.get(ds)) == 20
            assert [a["state"] for a in after["approvals"]] == ["rejected", "pending"]
            emu.review(ds, "approved", notes="second try")
            assert requests.get(f"{emu.url}/resource/{ds}.json").status_code == 200
        requests.get(f"{emu.url}/api/views/{ds}.json", auth=("publisher", "definitely-wrong-pw"))
        log = emu.log_path.read_text()
    assert "GET /resource/" in log and "user=publisher" in log
    for secret in ("publisher-secret", "cdo-secret", "admin-secret", "definitely-wrong-pw"):
        assert secret not in log


def test_accounts_from_the_environment_and_roles(tmp_path):
    accounts = [("alice", "a:pw:with:colons", "publisher"), ("boss", "b-pw", "admin")]
    with run_emulator(tmp_path, accounts=accounts) as emu:
        s = requests.Session()
        s.auth = ("alice", "a:pw:with:colons")
        created = s.post(f"{emu.url}/api/views.json", json={"name": "Alice's", "columns": []})
        assert created.status_code == 200 and created.json()["owner"]["displayName"] == "alice"
        assert requests.get(f"{emu.url}/__emulator/stats", auth=("boss", "b-pw")).status_code == 200
        assert http(emu, "admin").get(f"{emu.url}/__emulator/stats").status_code == 200
        assert (
            requests.get(f"{emu.url}/api/licenses", auth=("publisher", "publisher-secret")).status_code == 401
        )
