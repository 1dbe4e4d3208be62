"""SocrataHook.replace_via_revision against the portal emulator over real HTTP: the audience is kept,
the replace is exact (also under injected faults), failures are typed, and uploads stream."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import requests

from opendata.portal import (
    Audience,
    ColumnSpec,
    SocrataForbiddenOperation,
    SocrataHook,
    SocrataRevisionFailed,
)
from portal_emulator import testing

PUBLISHER = ("pub-rev", "Pw-Revisions-4k8!")
ACCOUNTS = {"publisher": PUBLISHER, "reviewer": ("cdo", "Pw-Cdo-rev-2"), "admin": ("admin", "Pw-Admin-rev-3")}
CHUNK = 256 * 1024  # the emulator's preferred_chunk_size here: big uploads take many chunks
API = "/api/publishing/v1"

COLUMNS = [
    ColumnSpec("permit_id", "Permit ID", "text"),
    ColumnSpec("amount", "Amount", "number"),
    ColumnSpec("issued", "Issued", "calendar_date"),
    ColumnSpec("active", "Active", "checkbox"),
    ColumnSpec("version", "Version", "text"),
]


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with testing.run_emulator(
        tmp_path_factory.mktemp("portal"),
        accounts=ACCOUNTS,
        extra_args=("--upload-chunk-size", str(CHUNK), "--apply-stage-seconds", "0.05"),
    ) as emulator:
        yield emulator


def conn_json(url: str, **extra) -> str:
    base = {"connect_timeout": 2, "read_timeout": 20, "max_retries": 4, "backoff_base": 0.05, "backoff_max": 0.5}
    base.update(extra)
    return json.dumps(
        {"conn_type": "socrata", "host": url, "login": PUBLISHER[0], "password": PUBLISHER[1], "extra": base}
    )


def held_requests_answered(emu, log_mark: int, timeout: float = 60) -> dict:
    """The emulator's stats once every request it held past the client's read timeout has been
    answered. A "timeout" fault is counted when it is decided, but the held request itself only
    when the emulator answers it (``timeout_seconds`` later), and the access log gets its line
    right after: a fixed sleep here was a flake under load (a busy emulator answers late, and the
    late request then landed in this test's or the next test's counts)."""
    held = re.compile(rb"fault=(?:lost_answer_)?timeout/")
    deadline = time.monotonic() + timeout
    while True:
        faults = emu.stats()["faults"]["by_kind"]
        expected = sum(n for kind, n in faults.items() if kind.endswith("timeout"))
        with open(emu.log_path, "rb") as log:
            log.seek(log_mark)
            if len(held.findall(log.read())) >= expected:
                return emu.stats()
        assert time.monotonic() < deadline, f"held requests never answered: {faults}"
        time.sleep(0.05)


def log_mark(emu) -> int:
    return emu.log_path.stat().st_size


@pytest.fixture
def hook(emu, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", conn_json(emu.url))
    with SocrataHook() as h:
        yield h


@pytest.fixture(autouse=True)
def _no_faults_left(emu):
    yield
    emu.clear_faults()


def frames(n: int, version: str, batch: int = 5000, start: int = 0) -> Iterator[pd.DataFrame]:
    """The rows of one version as DataFrames of ``batch`` rows, made as they are consumed."""
    for lo in range(start, start + n, batch):
        i = np.arange(lo, min(start + n, lo + batch))
        yield pd.DataFrame(
            {
                "permit_id": [f"P{k:07d}" for k in i],
                "amount": np.where(i % 10 == 0, np.nan, i * 1.25),
                "issued": pd.to_datetime("2024-01-01") + pd.to_timedelta(i, unit="min"),
                "active": i % 2 == 0,
                "version": version,
            }
        )


def new_dataset(hook: SocrataHook, name: str, row_identifier: str | None = "permit_id") -> str:
    return hook.create_dataset(name, COLUMNS, row_identifier=row_identifier)


def all_rows(hook: SocrataHook, dataset_id: str, **kw) -> list[dict]:
    return list(hook.iter_rows(dataset_id, page_size=50_000, **kw))


def open_revisions(emu, dataset_id: str) -> list:
    with emu.session() as s:
        return s.get(f"{emu.url}{API}/revision/{dataset_id}", params={"open": "true"}).json()


def make_public(emu, hook: SocrataHook, dataset_id: str) -> None:
    hook.publish(dataset_id)
    hook.submit_for_public_approval(dataset_id)
    emu.review(dataset_id, "approved", notes="ok")
    assert hook.get_audience(dataset_id) is Audience.PUBLIC


# -- audience and exactness ---------------------------------------------------------------------------
def test_private_stays_private_and_the_replace_is_exact(emu, hook):
    dataset_id = new_dataset(hook, "Revision replace, private")
    hook.upsert(dataset_id, frames(3000, "old"))
    old_ids = {r[":id"] for r in all_rows(hook, dataset_id, exclude_system_fields=False)}
    result = hook.replace_via_revision(dataset_id, frames(12_000, "new"), total=12_000, audience="private")
    assert result.status == "successful" and result.audience is Audience.PRIVATE
    assert (result.rows_uploaded, result.rows_created, result.rows_deleted, result.errors) == (12_000, 12_000, 3000, 0)
    assert result.chunks == -(-result.bytes_uploaded // CHUNK) and result.chunks > 1
    # list, open, source, initiate, chunks, commit, source parsed, apply, and at least one poll
    assert result.requests >= 7 + result.chunks
    assert hook.get_audience(dataset_id) is Audience.PRIVATE
    rows = all_rows(hook, dataset_id, exclude_system_fields=False)
    assert len(rows) == 12_000 and not {r[":id"] for r in rows} & old_ids  # every row replaced
    by_id = {r["permit_id"]: r for r in rows}
    assert set(by_id) == {f"P{k:07d}" for k in range(12_000)}
    assert {r["version"] for r in rows} == {"new"}
    # SODA's forms: numbers as text, floating timestamps to the millisecond, booleans, nulls omitted.
    assert by_id["P0000003"]["amount"] == "3.75" and "amount" not in by_id["P0000010"]
    assert by_id["P0000061"]["issued"] == "2024-01-01T01:01:00.000"
    assert by_id["P0000002"]["active"] is True and by_id["P0000003"]["active"] is False
    assert open_revisions(emu, dataset_id) == []


def test_public_stays_public(emu, hook):
    dataset_id = new_dataset(hook, "Revision replace, public")
    hook.upsert(dataset_id, frames(10, "old"))
    make_public(emu, hook, dataset_id)
    frame = next(frames(40, "new"))
    result = hook.replace_via_revision(dataset_id, frame, audience=Audience.PUBLIC)
    assert result.rows_created == 40 and hook.get_audience(dataset_id) is Audience.PUBLIC
    anonymous = requests.get(f"{emu.url}/resource/{dataset_id}.json", params={"$limit": 100}, timeout=10)
    assert anonymous.status_code == 200 and {r["version"] for r in anonymous.json()} == {"new"}
    assert len(anonymous.json()) == 40


def test_a_replace_never_changes_the_audience(emu, hook):
    private = new_dataset(hook, "Private, asked for public")
    hook.upsert(private, frames(5, "old"))
    with pytest.raises(SocrataForbiddenOperation, match="is private"):
        hook.replace_via_revision(private, frames(5, "new"), audience="public")
    public = new_dataset(hook, "Public, asked for private")
    make_public(emu, hook, public)
    with pytest.raises(SocrataForbiddenOperation, match="is public"):
        hook.replace_via_revision(public, frames(5, "new"), audience=Audience.PRIVATE)
    with pytest.raises(ValueError):
        hook.replace_via_revision(public, frames(5, "new"), audience="site")
    stats = emu.stats()["revisions"]
    assert private not in stats and public not in stats  # refused before any revision was opened
    assert hook.get_audience(private) is Audience.PRIVATE and hook.get_audience(public) is Audience.PUBLIC
    assert {r["version"] for r in all_rows(hook, private)} == {"old"}


def test_inputs_are_checked_before_anything_is_opened(emu, hook):
    dataset_id = new_dataset(hook, "Checked inputs")
    with pytest.raises(ValueError, match="no rows"):
        hook.replace_via_revision(dataset_id, iter([]), audience="private")
    with pytest.raises(ValueError, match="not in the dataset: colour"):
        hook.replace_via_revision(dataset_id, [{"permit_id": "A", "colour": "red"}], audience="private")
    with pytest.raises(ValueError, match="missing from the rows: amount"):
        hook.replace_via_revision(dataset_id, [{"permit_id": "A"}], audience="private")
    assert dataset_id not in emu.stats()["revisions"]
    result = hook.replace_via_revision(
        dataset_id, [{"permit_id": "A", "version": "x"}], audience="private", allow_missing_columns=True
    )
    assert result.rows_created == 1


# -- failures ---------------------------------------------------------------------------------------
def test_a_failed_job_is_a_typed_error_and_changes_nothing(emu, hook):
    dataset_id = new_dataset(hook, "Failing revision")
    hook.upsert(dataset_id, frames(20, "old"))
    before = all_rows(hook, dataset_id, exclude_system_fields=False)
    duplicated = pd.concat([next(frames(10, "new")), next(frames(1, "new"))])
    with pytest.raises(SocrataRevisionFailed) as info:
        hook.replace_via_revision(dataset_id, duplicated, audience="private", poll_seconds=0.1)
    err = info.value
    assert err.stage == "apply" and err.dataset_id == dataset_id and err.revision_seq == 1
    assert err.details["type"] == "duplicate_row_identifier" and "more than once" in str(err)
    assert any(entry["stage"] == "failure" for entry in err.log)
    assert all_rows(hook, dataset_id, exclude_system_fields=False) == before
    assert open_revisions(emu, dataset_id) == []  # discarded


def test_rows_the_portal_cannot_read_are_refused_before_applying(emu, hook):
    dataset_id = new_dataset(hook, "Unreadable rows")
    hook.upsert(dataset_id, frames(5, "old"))
    bad = next(frames(10, "new")).astype({"amount": object})
    bad.loc[3, "amount"] = "about twelve"
    with pytest.raises(SocrataRevisionFailed) as info:
        hook.replace_via_revision(dataset_id, bad, audience="private")
    assert info.value.stage == "schema" and info.value.details["column_errors"] == {"amount": 1}
    assert {r["version"] for r in all_rows(hook, dataset_id)} == {"old"}
    assert open_revisions(emu, dataset_id) == []
    assert emu.stats()["revisions"][dataset_id]["applied"] == 0


# -- streaming ---------------------------------------------------------------------------------------
def test_uploads_stream_in_fixed_chunks(emu, hook):
    """Memory stays flat: rows are pulled from the caller one batch at a time while chunks go out,
    every chunk but the last is exactly the portal's preferred size, and no request carries more."""
    dataset_id = new_dataset(hook, "Streamed upload", row_identifier=None)
    consumed = []
    sent: list[tuple[int, int]] = []  # (frames consumed when the chunk was sent, chunk size)

    def counting(n):
        for frame in frames(n, "new", batch=2000):
            consumed.append(len(frame))
            yield frame

    session = hook.session
    real = session.request

    def spy(method, path, **kwargs):
        if "/chunk/" in path and not path.endswith("/commit"):
            sent.append((len(consumed), len(kwargs["data"])))
        return real(method, path, **kwargs)

    session.request = spy
    result = hook.replace_via_revision(dataset_id, counting(60_000), audience="private")
    assert result.rows_created == 60_000 and len(consumed) == 30
    assert len(sent) == result.chunks >= 8
    assert all(size == CHUNK for _, size in sent[:-1]) and 0 < sent[-1][1] <= CHUNK
    # When chunk i goes out, only the frames needed to fill chunks 0..i+2 have been read (chunk
    # i+1 waits ready in the background pipeline, chunk i+2 is being cut, plus the frame in
    # hand): the rest of the input is still with the caller.
    per_frame = result.bytes_uploaded / len(consumed)
    for i, (frames_read, _) in enumerate(sent):
        assert frames_read <= (i + 3) * CHUNK / per_frame + 2, (i, frames_read)
    assert sent[0][0] <= 3 * CHUNK / per_frame + 2 < len(consumed)
    assert emu.stats()["revisions"][dataset_id]["bytes_uploaded"] == result.bytes_uploaded


# -- faults -------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 19, 31])
def test_replace_under_faults_ends_with_exactly_the_new_rows_once(emu, monkeypatch, seed):
    """No row identifier, so a duplicated write would show: 429/5xx/202/timeouts on every endpoint
    at a 30% rate, a quarter of them after the request was applied (lost answers), and still
    exactly one copy of the new rows."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        conn_json(emu.url, read_timeout=1, max_retries=12, backoff_base=0.02, backoff_max=0.2),
    )
    with SocrataHook() as h:
        dataset_id = new_dataset(h, f"Revision under faults {seed}", row_identifier=None)
        h.upsert(dataset_id, frames(500, "old"), require_row_identifier=False)
        emu.reset_stats()
        mark = log_mark(emu)
        emu.set_faults(
            rate=0.3, kinds=["429", "500", "502", "503", "504", "202", "timeout"], timeout_seconds=1.2, seed=seed
        )
        try:
            started = time.monotonic()
            result = h.replace_via_revision(
                dataset_id, lambda: frames(15_000, "new"), audience="private", poll_seconds=0.1
            )
            seconds = time.monotonic() - started
        finally:
            emu.clear_faults()
        rows = all_rows(h, dataset_id)
        leftovers = open_revisions(emu, dataset_id)
        stats = held_requests_answered(emu, mark)
    ids = [r["permit_id"] for r in rows]
    assert len(ids) == 15_000 and set(ids) == {f"P{k:07d}" for k in range(15_000)}
    assert {r["version"] for r in rows} == {"new"}
    assert result.rows_created == 15_000 and result.rows_deleted == 500
    revisions = stats["revisions"][dataset_id]
    assert revisions["applied"] == 1 and revisions["failed"] == 0
    assert leftovers == []  # duplicates from retried creates were discarded
    assert stats["faults"]["total"] >= 5, stats["faults"]
    applies = stats["requests"].get(f"PUT {API}/revision/{{fourfour}}/{{seq}}/apply", 0)
    print(
        f"\nrevision under faults (seed {seed}): {stats['faults']}, {seconds:.1f}s, {applies} apply request(s), "
        f"attempts {result.attempts}, revisions {revisions}",
        file=sys.__stdout__,
    )


# Each case strikes one kind of request once (or a few times), deterministically. "after" means
# the portal acted and the answer was lost: the dangerous case for anything not idempotent.
TARGETED = {
    "create answered 500 after opening": ("POST", "/revision/{ds}", ["500"], 1.0, 1, 2),
    "apply answered 500 after applying": ("PUT", "/revision/{ds}/1/apply", ["500"], 1.0, 1, 1),
    "apply timed out after applying": ("PUT", "/revision/{ds}/1/apply", ["timeout"], 1.0, 1, 1),
    "apply answered 202 after applying": ("PUT", "/revision/{ds}/1/apply", ["202"], 1.0, 1, 1),
    "apply refused with 503": ("PUT", "/revision/{ds}/1/apply", ["503"], 0.0, 1, 1),
    "apply throttled": ("PUT", "/revision/{ds}/1/apply", ["429"], 0.0, 2, 1),
    "source requests failing": ("POST", "/source/", ["504", "timeout", "500"], 0.5, 5, 1),
    "job polls failing": ("GET", "/revision/{ds}/1/apply/", ["500", "202", "timeout"], 0.0, 4, 1),
}


@pytest.mark.parametrize("case", list(TARGETED))
def test_targeted_faults_end_with_one_copy(emu, monkeypatch, case):
    method, prefix, kinds, after, count, revisions_opened = TARGETED[case]
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        conn_json(emu.url, read_timeout=1, max_retries=6, backoff_base=0.02, backoff_max=0.1),
    )
    with SocrataHook() as h:
        dataset_id = new_dataset(h, f"Targeted: {case}", row_identifier=None)
        h.upsert(dataset_id, frames(50, "old"), require_row_identifier=False)
        emu.reset_stats()
        mark = log_mark(emu)
        emu.set_faults(
            kinds=kinds,
            count=count,
            after_ratio=after,
            methods=[method],
            path_prefixes=[API + prefix.format(ds=dataset_id)],
            timeout_seconds=1.2,
            seed=3,
        )
        result = h.replace_via_revision(dataset_id, frames(2000, "new"), audience="private", poll_seconds=0.05)
        emu.clear_faults()
        rows = all_rows(h, dataset_id)
        stats = held_requests_answered(emu, mark)
    assert stats["faults"]["total"] == count, stats["faults"]
    assert len(rows) == 2000 and len({r["permit_id"] for r in rows}) == 2000
    assert {r["version"] for r in rows} == {"new"} and result.rows_created == 2000
    revisions = stats["revisions"][dataset_id]
    assert revisions["applied"] == 1 and revisions["opened"] == revisions_opened
    assert revisions["discarded"] == revisions_opened - 1  # a duplicate from a retried create
    assert open_revisions(emu, dataset_id) == []
    applies = stats["requests"].get(f"PUT {API}/revision/{{fourfour}}/{{seq}}/apply", 0)
    if case == "apply refused with 503":
        assert applies == 2  # nothing was applied, so it was sent again
    elif case == "apply throttled":
        assert applies == 3  # 429: the portal did not act; the transport retries it
    else:
        assert applies == 1  # applied once; the lost answer was recovered by reading the revision


def test_an_upload_that_keeps_failing_starts_again_in_a_new_revision(emu, monkeypatch):
    """When a source request fails through all its retries, the revision is discarded (the dataset
    was never touched) and, for an input that can be read again, the upload starts over."""
    from opendata.portal import SocrataServerError

    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT", conn_json(emu.url, max_retries=2, backoff_base=0.01, backoff_max=0.02)
    )
    with SocrataHook() as h:
        dataset_id = new_dataset(h, "Upload restarted", row_identifier=None)
        h.upsert(dataset_id, frames(30, "old"), require_row_identifier=False)
        emu.reset_stats()
        emu.set_faults(kinds=["500"], count=3, after_ratio=0, methods=["POST"], path_prefixes=[f"{API}/source/"])
        result = h.replace_via_revision(dataset_id, lambda: frames(3000, "new"), audience="private")
        assert result.attempts == 2 and result.revision_seq == 2 and result.rows_created == 3000
        revisions = emu.stats()["revisions"][dataset_id]
        assert (revisions["opened"], revisions["discarded"], revisions["applied"]) == (2, 1, 1)
        assert len(all_rows(h, dataset_id)) == 3000

        # A one-shot iterator cannot be read twice: the error surfaces, nothing was changed.
        emu.set_faults(kinds=["500"], count=3, after_ratio=0, methods=["POST"], path_prefixes=[f"{API}/source/"])
        with pytest.raises(SocrataServerError):
            h.replace_via_revision(dataset_id, frames(10, "newer"), audience="private")
        assert {r["version"] for r in all_rows(h, dataset_id)} == {"new"}
        assert open_revisions(emu, dataset_id) == []
