"""Fault injection (before and after apply, timeouts, slow answers) and the stats counters."""

from __future__ import annotations

import json
import time

import pytest
import requests

from portal_emulator.testing import run_emulator

from .conftest import http, new_dataset, sodapy_client


@pytest.fixture(autouse=True)
def _no_faults_left(emu):
    yield
    emu.clear_faults()


@pytest.mark.parametrize(
    "kind,status", [("429", 429), ("500", 500), ("502", 502), ("503", 503), ("504", 504), ("202", 202)]
)
def test_each_status_kind(emu, kind, status):
    emu.set_faults(kinds=[kind], count=1, after_ratio=0)
    r = requests.get(f"{emu.url}/api/licenses")
    assert r.status_code == status
    assert r.headers["X-Socrata-RequestId"]
    assert requests.get(f"{emu.url}/api/licenses").status_code == 200  # count=1: only one fault


def test_retry_after_is_optional(emu):
    emu.set_faults(kinds=["429"], count=1)
    assert "Retry-After" not in requests.get(f"{emu.url}/api/licenses").headers
    emu.set_faults(kinds=["503"], count=1, retry_after=2)
    assert requests.get(f"{emu.url}/api/licenses").headers["Retry-After"] == "2"


def test_fault_before_apply_does_not_write(emu, client):
    ds = new_dataset(client, "Faulted before")
    emu.set_faults(kinds=["500"], count=1, after_ratio=0, methods=["POST"], path_prefixes=["/resource/"])
    with pytest.raises(requests.HTTPError) as err:
        client.upsert(ds, [{"permit_id": "A"}])
    assert err.value.response.status_code == 500
    assert client.get(ds) == []


def test_fault_after_apply_loses_the_answer_but_keeps_the_write(emu, client):
    ds = new_dataset(client, "Faulted after", row_identifier=None)
    emu.set_faults(kinds=["503"], count=1, after_ratio=1.0, methods=["POST"], path_prefixes=["/resource/"])
    with pytest.raises(requests.HTTPError):
        client.upsert(ds, [{"permit_id": "A"}])
    assert client.get(ds) == [{"permit_id": "A"}]
    # A blind retry of a non-idempotent append duplicates the row: exactly the danger to test for.
    client.upsert(ds, [{"permit_id": "A"}])
    assert len(client.get(ds)) == 2
    assert emu.stats()["faults"]["after_apply"] >= 1


def test_timeout_holds_past_the_client_read_timeout(emu, client):
    ds = new_dataset(client, "Timeout")
    emu.set_faults(kinds=["timeout"], count=1, after_ratio=1.0, timeout_seconds=1.0, methods=["POST"])
    with sodapy_client(emu, timeout=0.3) as impatient:
        with pytest.raises(requests.exceptions.ReadTimeout):
            impatient.upsert(ds, [{"permit_id": "late"}])
    deadline = time.monotonic() + 5
    while not client.get(ds) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get(ds) == [{"permit_id": "late"}]  # applied although the client gave up

    emu.set_faults(kinds=["timeout"], count=1, after_ratio=0, timeout_seconds=0.5)
    started = time.monotonic()
    r = requests.get(f"{emu.url}/api/licenses", timeout=5)
    assert r.status_code == 504 and time.monotonic() - started >= 0.5


def test_slow_answers_normally(emu):
    emu.set_faults(kinds=["slow"], count=1, slow_seconds=0.4)
    started = time.monotonic()
    r = requests.get(f"{emu.url}/api/licenses")
    assert r.status_code == 200 and time.monotonic() - started >= 0.4


def test_rate_is_roughly_respected(emu):
    emu.reset_stats()
    emu.set_faults(rate=0.5, kinds=["429", "500"], seed=7)
    codes = [requests.get(f"{emu.url}/api/licenses").status_code for _ in range(120)]
    faults = sum(c != 200 for c in codes)
    assert 30 <= faults <= 90 and set(codes) <= {200, 429, 500}
    assert emu.stats()["faults"]["by_kind"].keys() <= {"429", "500"}


def test_stats_count_requests_bytes_and_rows(emu, client):
    ds = new_dataset(client, "Counted")
    emu.reset_stats()
    rows = [{"permit_id": f"R{i}", "amount": i} for i in range(50)]
    client.upsert(ds, rows)
    client.upsert(ds, rows[:10] + [{"permit_id": "R0", ":deleted": True}])
    client.get(ds)
    stats = emu.stats()
    assert stats["requests"]["POST /resource/{dataset_id}.{ext}"] == 2
    assert stats["requests"]["GET /resource/{dataset_id}.{ext}"] == 1
    sent = len(json.dumps(rows)) + len(json.dumps(rows[:10] + [{"permit_id": "R0", ":deleted": True}]))
    assert stats["request_body_bytes"]["POST /resource/{dataset_id}.{ext}"] == sent
    assert stats["rows"][ds] == {
        "requests": 2,
        "received": 61,
        "created": 50,
        "updated": 10,
        "deleted": 1,
        "errors": 0,
    }
    assert stats["app_tokens"].get("test-app-token", 0) >= 3
    assert emu.reset_stats()["requests_total"] == 0


def test_admin_endpoints_need_the_admin(emu):
    assert http(emu, "publisher").get(f"{emu.url}/__emulator/stats").status_code == 403
    assert http(emu, "reviewer").post(f"{emu.url}/__emulator/faults", json={"rate": 1}).status_code == 403
    assert requests.get(f"{emu.url}/__emulator/stats").status_code == 403
    bad = http(emu, "admin").post(f"{emu.url}/__emulator/faults", json={"kinds": ["418"]})
    assert bad.status_code == 400


def test_startup_fault_flags(tmp_path):
    with run_emulator(tmp_path, fault_rate=1.0, fault_kinds=["503"]) as emu:
        assert requests.get(f"{emu.url}/api/licenses").status_code == 503
        assert requests.get(f"{emu.url}/__emulator/health").status_code == 200  # never faulted
        assert emu.stats()["faults"]["by_kind"] == {"503": 1}
        assert emu.clear_faults()["rate"] == 0.0
        assert requests.get(f"{emu.url}/api/licenses").status_code == 200
