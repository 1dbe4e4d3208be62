"""Retry policy (pure) and the retrying transport, driven by a scripted wire."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from opendata.portal.errors import (
    SocrataForbiddenOperation,
    SocrataNotFound,
    SocrataRateLimited,
    SocrataServerError,
    SocrataStillProcessing,
    SocrataTimeout,
)
from opendata.portal.retry import DEFAULT_RETRY_STATUSES, RetryPolicy, parse_retry_after
from opendata.portal.transport import NON_IDEMPOTENT, is_dataset_delete
from tests.opendata.portal.socrata_fakes import scripted, session_with

URL = "https://data.example.gov"


# -- policy -------------------------------------------------------------------------------------
def test_default_statuses():
    assert DEFAULT_RETRY_STATUSES == {202, 429, 500, 502, 503, 504}
    policy = RetryPolicy()
    assert not policy.should_retry_status(400)
    assert not policy.should_retry_status(404)


def test_backoff_caps_grow_exponentially_and_are_capped():
    policy = RetryPolicy(max_retries=8, backoff_base=1, backoff_max=20)
    assert [policy.backoff_cap(n) for n in range(8)] == [1, 2, 4, 8, 16, 20, 20, 20]
    assert policy.schedule_bounds()[2] == (2, 4)


def test_equal_jitter_stays_within_bounds_and_varies():
    policy = RetryPolicy(max_retries=6, backoff_base=0.5, backoff_max=30)
    rng = random.Random(7)
    for n in range(6):
        cap = policy.backoff_cap(n)
        delays = [policy.compute_delay(n, rng=rng) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len({round(d, 6) for d in delays}) > 150  # jittered, not constant


def test_retry_after_is_honoured_and_capped():
    policy = RetryPolicy(retry_after_max=10)
    rng = random.Random(1)
    delay = policy.compute_delay(0, retry_after=4, rng=rng)
    assert 4 <= delay <= 4.4
    assert 10 <= policy.compute_delay(0, retry_after=3600, rng=rng) <= 11


def test_parse_retry_after_forms():
    assert parse_retry_after({"Retry-After": "7"}) == 7
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"Retry-After": "-3"}) == 0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": when}, now=now) == 30


def test_policy_validation():
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


# -- transport ----------------------------------------------------------------------------------
def _sequence(*outcomes):
    items = list(outcomes)

    def handler(seen):
        item = items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return handler


def _adapter(handler, **kwargs):
    sleeps: list[float] = []
    kwargs.setdefault("policy", RetryPolicy(max_retries=5, backoff_base=1, backoff_max=8))
    adapter, script = scripted(handler, sleep=sleeps.append, rng=random.Random(3), **kwargs)
    return adapter, script, sleeps


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 202])
def test_retryable_statuses_are_retried_for_post(status):
    adapter, script, sleeps = _adapter(_sequence((status, {"message": "busy"}), (200, {"Rows Created": 1})))
    response = session_with(adapter).post(f"{URL}/resource/abcd-1234.json", data="[]")
    assert response.status_code == 200
    assert [s.method for s in script.seen] == ["POST", "POST"]
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1


def test_backoff_grows_between_attempts():
    adapter, script, sleeps = _adapter(_sequence(*[(503, {})] * 4, (200, {})))
    session_with(adapter).get(f"{URL}/api/views/abcd-1234.json")
    assert len(script.seen) == 5
    for n, delay in enumerate(sleeps):
        assert 2**n / 2 <= delay <= 2**n


def test_retry_after_header_drives_the_wait():
    adapter, _, sleeps = _adapter(_sequence((429, {}, {"Retry-After": "3"}), (200, {})))
    session_with(adapter).get(f"{URL}/resource/abcd-1234.json")
    assert 3 <= sleeps[0] <= 3.3


def test_timeouts_and_resets_are_retried():
    adapter, script, _ = _adapter(
        _sequence(
            requests.exceptions.ReadTimeout("read timed out"),
            requests.exceptions.ConnectionError("reset"),
            requests.exceptions.ChunkedEncodingError("truncated"),
            (200, {"ok": True}),
        )
    )
    assert session_with(adapter).post(f"{URL}/resource/abcd-1234.json", data="[]").json() == {"ok": True}
    assert len(script.seen) == 4


def test_exhausted_retries_raise_typed_errors():
    policy = RetryPolicy(max_retries=2, backoff_base=0)
    adapter, script, _ = _adapter(lambda s: (500, {"code": "internal", "message": "boom"}), policy=policy)
    with pytest.raises(SocrataServerError) as info:
        session_with(adapter).get(f"{URL}/api/views/abcd-1234.json")
    assert len(script.seen) == 3
    assert info.value.status == 500 and info.value.code == "internal"

    adapter, _, _ = _adapter(lambda s: (429, {"message": "slow down"}), policy=policy)
    with pytest.raises(SocrataRateLimited):
        session_with(adapter).get(f"{URL}/resource/abcd-1234.json")

    adapter, _, _ = _adapter(lambda s: (202, {"message": "processing"}), policy=policy)
    with pytest.raises(SocrataStillProcessing):
        session_with(adapter).get(f"{URL}/resource/abcd-1234.json")

    def timeout(_):
        raise requests.exceptions.ReadTimeout("HTTPSConnectionPool: Read timed out. (read timeout=1)")

    adapter, _, _ = _adapter(timeout, policy=policy)
    with pytest.raises(SocrataTimeout) as tinfo:
        session_with(adapter).post(f"{URL}/resource/abcd-1234.json", data="[]")
    assert tinfo.value.path == "/resource/abcd-1234.json"
    assert "read timeout" in tinfo.value.message


def test_client_errors_are_not_retried():
    adapter, script, sleeps = _adapter(lambda s: (404, {"code": "not_found", "message": "Not found"}))
    with pytest.raises(SocrataNotFound):
        session_with(adapter).get(f"{URL}/api/views/abcd-1234.json")
    assert len(script.seen) == 1 and sleeps == []


def test_non_idempotent_requests_retry_only_when_not_processed():
    adapter, script, _ = _adapter(_sequence((500, {"message": "boom"}), (200, {})))
    token = NON_IDEMPOTENT.set(True)
    try:
        with pytest.raises(SocrataServerError):
            session_with(adapter).post(f"{URL}/api/views.json", data="{}")
        assert len(script.seen) == 1

        adapter, script, _ = _adapter(_sequence((429, {}), (200, {"id": "abcd-1234"})))
        assert session_with(adapter).post(f"{URL}/api/views.json", data="{}").status_code == 200
        assert len(script.seen) == 2

        adapter, script, _ = _adapter(_sequence(requests.exceptions.ReadTimeout("x"), (200, {})))
        with pytest.raises(SocrataTimeout):
            session_with(adapter).post(f"{URL}/api/views.json", data="{}")
        assert len(script.seen) == 1

        adapter, script, _ = _adapter(_sequence(requests.exceptions.ConnectTimeout("x"), (200, {})))
        assert session_with(adapter).post(f"{URL}/api/views.json", data="{}").status_code == 200

        adapter, script, _ = _adapter(_sequence((202, {"id": "abcd-1234"})))
        assert session_with(adapter).post(f"{URL}/api/views/abcd-1234/publication.json").status_code == 202
    finally:
        NON_IDEMPOTENT.reset(token)


def test_timeouts_are_split_and_content_type_added():
    adapter, script, _ = _adapter(lambda s: (200, {}), connect_timeout=3, read_timeout=120)
    session = session_with(adapter)
    session.post(f"{URL}/resource/abcd-1234.json", data='[{"a": 1}]', timeout=10)  # sodapy's single number
    session.get(f"{URL}/resource/abcd-1234.json", timeout=(1, 2))  # explicit tuple wins
    first, second = script.seen
    assert first.timeout == (3, 120)
    assert first.headers["Content-Type"] == "application/json"
    assert second.timeout == (1, 2)
    assert "Content-Type" not in second.headers
    session.post(f"{URL}/resource/abcd-1234.json", data="a,b\n1,2", headers={"content-type": "text/csv"})
    assert script.seen[-1].headers["content-type"] == "text/csv"


@pytest.mark.parametrize(
    "path",
    [
        "/api/views/abcd-1234.json",
        "/api/views/abcd-1234",
        "/views/abcd-1234.json",
        "/resource/abcd-1234.json",
    ],
)
def test_dataset_delete_is_refused_before_the_wire(path):
    adapter, script, _ = _adapter(lambda s: (200, {}))
    with pytest.raises(SocrataForbiddenOperation):
        session_with(adapter).delete(f"{URL}{path}")
    assert script.seen == []
    assert is_dataset_delete("delete", f"{URL}{path}")


def test_row_delete_path_is_not_a_dataset_delete():
    assert not is_dataset_delete("DELETE", f"{URL}/resource/abcd-1234/row-1.json")
    assert not is_dataset_delete("GET", f"{URL}/api/views/abcd-1234.json")


def test_every_attempt_is_logged_without_query_secrets(caplog):
    logger = logging.getLogger("test.socrata.transport")
    adapter, _, _ = _adapter(
        _sequence((503, {}, {"X-Socrata-RequestId": "req-1"}), (200, {}, {"X-Socrata-RequestId": "req-2"})),
        logger=logger,
    )
    with caplog.at_level(logging.DEBUG, logger="test.socrata.transport"):
        session_with(adapter).get(
            f"{URL}/resource/abcd-1234.json", params={"$limit": 5, "$$app_token": "tok-SECRET", "q": "x"}
        )
    lines = [r.getMessage() for r in caplog.records]
    attempts = [line for line in lines if "->" in line]
    assert len(attempts) == 2
    assert "GET /resource/abcd-1234.json?$limit=5&q=*** -> 503" in attempts[0]
    assert "req-1" in attempts[0] and "req-2" in attempts[1]
    assert all(" in " in line and "s (X-Socrata-RequestId" in line for line in attempts)
    assert not any("tok-SECRET" in line or "data.example.gov" in line for line in lines)


def test_refused_connection_is_retried_even_when_not_idempotent():
    import socket

    from opendata.portal.errors import SocrataConnectionError
    from opendata.portal.transport import SocrataHTTPAdapter

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    adapter = SocrataHTTPAdapter(
        policy=RetryPolicy(max_retries=2, backoff_base=0.01),
        connect_timeout=1,
        read_timeout=1,
        sleep=sleeps.append,
    )
    token = NON_IDEMPOTENT.set(True)
    try:
        with pytest.raises(SocrataConnectionError) as info:
            session_with(adapter, "http://").post(f"http://127.0.0.1:{port}/api/views.json", data="{}")
    finally:
        NON_IDEMPOTENT.reset(token)
    assert adapter.attempts == 3 and len(sleeps) == 2  # refused: the portal never saw it, so safe to retry
    assert "after 3 attempt(s)" in info.value.message


def test_a_documented_202_is_an_answer_not_a_retry():
    """DSMAPI documents 202 for reading an apply job: with ACCEPT_202 it is returned at once,
    while 5xx are still retried."""
    from opendata.portal.transport import ACCEPT_202

    token = ACCEPT_202.set(True)
    try:
        adapter, script, _ = _adapter(_sequence((500, {}), (202, {"resource": {"id": 1, "status": "upserting"}})))
        response = session_with(adapter).get(f"{URL}/api/publishing/v1/revision/abcd-1234/1/apply/1")
        assert response.status_code == 202 and len(script.seen) == 2
    finally:
        ACCEPT_202.reset(token)
    adapter, script, _ = _adapter(_sequence((202, {}), (200, {})))
    assert session_with(adapter).get(f"{URL}/resource/abcd-1234.json").status_code == 200  # SODA: retried
    assert len(script.seen) == 2
