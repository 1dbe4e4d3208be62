"""SocrataHook against the portal emulator (plugins/portal_emulator), over real HTTP.

One emulator per module, with distinctive credentials so the log-leak test can search for them.
The hook is configured only through ``AIRFLOW_CONN_SOCRATA_DEFAULT`` (JSON), as in production.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import sys
import time
from contextlib import contextmanager, redirect_stderr

import pytest
import requests
from sodapy import Socrata as SodapyClient

from opendata.portal import (
    ApprovalState,
    Audience,
    ColumnSpec,
    DatasetMetadata,
    SocrataAuthError,
    SocrataForbiddenOperation,
    SocrataHook,
    SocrataNotFound,
)
from portal_emulator import testing

PUBLISHER = ("pub-7f3k", "Pw-Publisher-zQ9!x7Lm")
REVIEWER = ("cdo", "Pw-Reviewer-K2v#8")
ADMIN = ("admin", "Pw-Admin-L1u$5")
APP_TOKEN = "AppTok-Distinct-9vQe2WbX"
ACCOUNTS = {"publisher": PUBLISHER, "reviewer": REVIEWER, "admin": ADMIN}

COLUMNS = [
    ColumnSpec("permit_id", "Permit ID", "text", "Permit number"),
    ColumnSpec("amount", "Amount", "number"),
    ColumnSpec("issued", "Issued", "calendar_date"),
    ColumnSpec("active", "Active", "checkbox"),
]


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    # --require-socrata-host: private assets are visible to Discovery/Metadata only with the header,
    # as the reference documents for the real portal.
    with testing.run_emulator(
        tmp_path_factory.mktemp("portal"), accounts=ACCOUNTS, extra_args=("--require-socrata-host",)
    ) as emulator:
        yield emulator


def conn_json(url: str, login: str | None, password: str | None, **extra) -> str:
    base = {
        "app_token": APP_TOKEN,
        "connect_timeout": 2,
        "read_timeout": 20,
        "max_retries": 4,
        "backoff_base": 0.05,
    }
    base.update(extra)
    return json.dumps(
        {"conn_type": "socrata", "host": url, "login": login, "password": password, "extra": base}
    )


@pytest.fixture
def hook(emu, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", conn_json(emu.url, *PUBLISHER))
    with SocrataHook() as h:
        yield h


def make_rows(start: int, stop: int) -> list[dict]:
    return [
        {
            "permit_id": f"P{i:06d}",
            "amount": i * 1.5 if i % 7 else float("nan"),
            "issued": f"2024-01-{1 + i % 28:02d}T00:00:00",
            "active": i % 2 == 0,
        }
        for i in range(start, stop)
    ]


def new_dataset(hook: SocrataHook, name: str) -> str:
    return hook.create_dataset(
        name,
        COLUMNS,
        row_identifier="permit_id",
        metadata=DatasetMetadata(
            description="Building permits issued by LADBS",
            category="Housing and Real Estate",
            tags=("permits", "housing"),
            license_id="PUBLIC_DOMAIN",
            attribution="LADBS",
            attribution_link="https://www.ladbs.org",
            custom_fields={"Publishing Details": {"Publishing frequency": "Daily"}},
        ),
    )


# -- the publication lifecycle --------------------------------------------------------------------
def test_lifecycle_private_to_public(emu, hook):
    dataset_id = new_dataset(hook, "Building permits (lifecycle)")
    view = hook.get_view(dataset_id)
    assert view.audience is Audience.PRIVATE and hook.get_audience(dataset_id) is Audience.PRIVATE
    assert view.row_identifier_field == "permit_id"
    assert [c.field_name for c in view.columns] == ["permit_id", "amount", "issued", "active"]

    created = hook.upsert(dataset_id, make_rows(0, 25), chunk_size=10)
    assert (created.rows_created, created.rows_updated, created.requests) == (25, 0, 3)
    changed = make_rows(20, 30)
    changed += [{"permit_id": "P000000", ":deleted": True}, {"permit_id": "P000001", ":deleted": True}]
    second = hook.upsert(dataset_id, changed, chunk_size=10)
    assert (second.rows_created, second.rows_updated, second.rows_deleted) == (5, 5, 2)
    assert hook.upsert_deletions(dataset_id, "permit_id", ["P000002"]).rows_deleted == 1

    rows = list(hook.iter_rows(dataset_id, page_size=7))
    ids = [r["permit_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 27
    row7 = next(r for r in rows if r["permit_id"] == "P000007")
    assert "amount" not in row7 or row7["amount"] is None  # NaN was sent as null

    meta = hook.update_metadata(
        dataset_id,
        DatasetMetadata(
            description="Updated description",
            tags=("permits", "construction"),
            license="Public Domain",
            custom_fields={"Publishing Details": {"Publishing frequency": "Weekly"}},
        ),
    )
    assert meta.description == "Updated description" and meta.tags == ("permits", "construction")
    assert meta.custom_fields["Publishing Details"]["Publishing frequency"] == "Weekly"
    assert hook.get_view(dataset_id).row_identifier_field == "permit_id"  # not clobbered by the patch
    assert hook.get_asset_metadata(dataset_id).data_updated_at is not None

    assert not hook.get_view(dataset_id).is_published  # a created dataset is a draft
    published = hook.publish(dataset_id)
    assert published.is_published and published.id == dataset_id
    assert hook.publish(dataset_id).is_published  # no second publish
    assert hook.get_audience(dataset_id) is Audience.PRIVATE  # publishing keeps the audience

    assert hook.get_approval_status(dataset_id).state is ApprovalState.SUBMITTABLE
    first = hook.submit_for_public_approval(dataset_id)
    assert first.submitted and first.status.state is ApprovalState.PENDING
    again = hook.submit_for_public_approval(dataset_id)
    assert not again.submitted and again.status.state is ApprovalState.PENDING

    anonymous = requests.get(f"{emu.url}/resource/{dataset_id}.json", timeout=10)
    assert anonymous.status_code in (401, 403)
    client = SodapyClient(
        emu.url.split("://", 1)[1],
        None,
        session_adapter={"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()},
    )
    with pytest.raises(requests.HTTPError):
        client.get(dataset_id, limit=1)
    with pytest.raises(requests.HTTPError):
        client.get_metadata(dataset_id)
    client.close()

    emu.review(dataset_id, "approved", notes="Checked privacy and quality")
    status = hook.get_approval_status(dataset_id)
    assert status.state is ApprovalState.APPROVED
    assert status.reviewed_at is not None and status.latest_review.reviewed_automatically is False
    # A fresh hook resolves its connection asynchronously, as a trigger in the triggerer would.
    async_status = asyncio.run(SocrataHook().aget_approval_status(dataset_id))
    assert async_status.state is ApprovalState.APPROVED and async_status.reviewed_at == status.reviewed_at

    hook.set_audience(dataset_id, Audience.PUBLIC)
    assert hook.get_audience(dataset_id) is Audience.PUBLIC
    assert hook.get_view(dataset_id).is_public
    assert hook.visibility(dataset_id).visible_to_anonymous
    assert hook.anonymous_read_status(dataset_id) == 200
    public_rows = requests.get(f"{emu.url}/resource/{dataset_id}.json", params={"$limit": 1}, timeout=10)
    assert public_rows.status_code == 200 and len(public_rows.json()) == 1
    assert hook.submit_for_public_approval(dataset_id).submitted is False

    fresh = hook.list_asset_freshness([dataset_id])
    assert fresh[dataset_id].audience is Audience.PUBLIC
    assert fresh[dataset_id].data_updated_at is not None and fresh[dataset_id].metadata_updated_at is not None


def test_rejection_then_resubmission(emu, hook):
    dataset_id = new_dataset(hook, "Building permits (rejected)")
    hook.upsert(dataset_id, make_rows(0, 3))
    # Asking for public directly only queues the request on a portal with approvals (reference §4.2).
    hook.set_audience(dataset_id, Audience.PUBLIC)
    assert hook.get_audience(dataset_id) is Audience.PRIVATE
    assert hook.get_approval_status(dataset_id).state is ApprovalState.PENDING
    assert not hook.submit_for_public_approval(dataset_id).submitted  # already pending
    emu.review(dataset_id, "rejected", notes="Zip codes contain letters")
    status = hook.get_approval_status(dataset_id)
    assert status.state is ApprovalState.REJECTED and status.reviewed_at is not None
    assert hook.get_audience(dataset_id) is Audience.PRIVATE
    assert hook.submit_for_public_approval(dataset_id).status.state is ApprovalState.PENDING


def test_freshness_in_bulk_includes_private_assets(emu, hook):
    ids = [new_dataset(hook, f"Freshness {i}") for i in range(3)]
    fresh = hook.list_asset_freshness(ids, batch_size=2)
    assert set(ids) <= set(fresh)
    assert all(fresh[i].audience is Audience.PRIVATE for i in ids)
    everything = hook.list_asset_freshness(page_size=2)
    assert set(ids) <= set(everything)
    emu.set_comments(ids[0], 4)
    with_comments = hook.list_asset_freshness(ids[:1], with_comments=True)
    assert with_comments[ids[0]].number_of_comments == 4


def test_connection_test_button(emu, hook, monkeypatch):
    assert hook.test_connection() == (True, f"Connected to {emu.host}")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_WRONG", conn_json(emu.url, PUBLISHER[0], "Pw-Nope-0000", max_retries=0)
    )
    ok, message = SocrataHook("socrata_wrong").test_connection()
    assert not ok and "401" in message and "Pw-Nope-0000" not in message


# -- errors -------------------------------------------------------------------------------------
def test_missing_dataset_is_typed(hook):
    with pytest.raises(SocrataNotFound) as view_err:
        hook.get_view("zzzz-9999")
    assert view_err.value.status == 404 and view_err.value.code == "not_found"
    assert view_err.value.request_id
    with pytest.raises(SocrataNotFound) as rows_err:
        list(hook.iter_rows("zzzz-9999"))
    assert rows_err.value.code == "dataset.missing"
    with pytest.raises(SocrataNotFound):
        hook.get_asset_metadata("zzzz-9999")
    with pytest.raises(SocrataNotFound):
        hook.upsert("zzzz-9999", [{"permit_id": "x"}])


def test_bad_credentials_are_typed(emu, hook, monkeypatch):
    dataset_id = new_dataset(hook, "Private, for the bad-credentials test")
    wrong = "Pw-Wrong-Ab3$Zz9"
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_WRONG", conn_json(emu.url, PUBLISHER[0], wrong))
    with SocrataHook("socrata_wrong") as bad:
        with pytest.raises(SocrataAuthError) as info:
            bad.get_view(dataset_id)
        assert info.value.status == 401 and info.value.code == "invalid_credentials"
        with pytest.raises(SocrataAuthError):
            bad.upsert(dataset_id, [{"permit_id": "x"}], require_row_identifier=False)
    text = str(info.value) + repr(info.value)
    assert wrong not in text and base64.b64encode(f"{PUBLISHER[0]}:{wrong}".encode()).decode() not in text


def test_dataset_delete_never_reaches_the_portal(emu, hook):
    dataset_id = new_dataset(hook, "Not to be deleted")

    def portal_requests():
        return {k: v for k, v in emu.stats()["requests"].items() if "/__emulator" not in k}

    before = portal_requests()
    with pytest.raises(SocrataForbiddenOperation):
        hook.get_conn().delete(dataset_id)
    assert portal_requests() == before
    assert hook.get_view(dataset_id).id == dataset_id
    assert not any(key.startswith("DELETE") for key in emu.stats()["requests"])


# -- retries under injected faults ----------------------------------------------------------------
@pytest.mark.slow
def test_50k_upsert_under_30_percent_faults_is_exact(emu, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        conn_json(
            emu.url,
            *PUBLISHER,
            connect_timeout=2,
            read_timeout=2.5,
            max_retries=12,
            backoff_base=0.05,
            backoff_max=0.5,
            chunk_size=2500,
        ),
    )
    with SocrataHook() as h:
        dataset_id = new_dataset(h, "Permits under faults")
        emu.reset_stats()
        emu.set_faults(
            rate=0.3,
            kinds=["429", "500", "502", "503", "504", "202", "timeout"],
            timeout_seconds=3.5,
            seed=2026,  # seeded: an unseeded 30 % over 20 requests gives fewer than 3 faults 3.5 % of the time
        )
        try:
            started = time.monotonic()
            result = h.upsert(dataset_id, (row for row in make_rows(0, 50_000)), total=50_000)
            upsert_seconds = time.monotonic() - started
            ids = [row["permit_id"] for row in h.iter_rows(dataset_id, page_size=10_000, select="permit_id")]
        finally:
            emu.clear_faults()
        stats = emu.stats()
    assert result.rows_sent == 50_000 and result.requests == 20
    assert len(ids) == 50_000
    assert len(set(ids)) == 50_000
    assert set(ids) == {f"P{i:06d}" for i in range(50_000)}
    print(f"faults injected: {stats['faults']}, upsert took {upsert_seconds:.1f}s", file=sys.__stdout__)
    assert stats["faults"]["total"] >= 3, stats["faults"]  # the retry path was really exercised
    assert upsert_seconds < 90


# -- credentials never logged -------------------------------------------------------------------
@contextmanager
def capture_everything(caplog):
    """Root logger at DEBUG into a buffer, caplog at DEBUG, and sys.stderr redirected."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    err = io.StringIO()
    try:
        with caplog.at_level(logging.DEBUG), redirect_stderr(err):
            yield (
                lambda: (
                    buffer.getvalue()
                    + "\n"
                    + err.getvalue()
                    + "\n"
                    + caplog.text
                    + "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
                )
            )
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def airflow_masking_off(monkeypatch):
    """Disable Airflow's log secrets masker, so the test proves our code never logs secrets at all
    (rather than relying on Airflow to hide what we leak)."""
    import importlib

    for module in (
        "airflow.sdk._shared.secrets_masker.secrets_masker",
        "airflow._shared.secrets_masker.secrets_masker",
    ):
        try:
            masker = importlib.import_module(module)
        except ImportError:
            continue
        monkeypatch.setattr(masker.SecretsMasker, "redact", lambda self, item, *a, **k: item)


def test_airflow_masking_is_really_off(airflow_masking_off, capfd):
    from airflow.sdk.log import mask_secret

    canary = "Canary-Secret-5hT8"
    mask_secret(canary)
    SocrataHook("canary").log.warning("canary %s", canary)
    out, err = capfd.readouterr()
    assert canary in out + err  # so the next test would see a leak if there were one


def test_no_credentials_in_any_log_output(emu, monkeypatch, caplog, capfd, airflow_masking_off):
    wrong = "Pw-Wrong-Leak-Q8$k"
    secrets = {
        PUBLISHER[1],
        APP_TOKEN,
        wrong,
        base64.b64encode(f"{PUBLISHER[0]}:{PUBLISHER[1]}".encode()).decode(),
        base64.b64encode(f"{PUBLISHER[0]}:{wrong}".encode()).decode(),
        f"{PUBLISHER[0]}:{PUBLISHER[1]}",
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        conn_json(emu.url, *PUBLISHER, read_timeout=1, max_retries=8, backoff_base=0.01, backoff_max=0.05),
    )
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_WRONG", conn_json(emu.url, PUBLISHER[0], wrong, max_retries=0))
    errors: list[str] = []
    with capture_everything(caplog) as captured:
        with SocrataHook() as h:
            dataset_id = new_dataset(h, "Leak test")
            emu.set_faults(rate=0.5, kinds=["429", "500", "timeout"], timeout_seconds=1.5, seed=11)
            try:
                h.upsert(dataset_id, make_rows(0, 300), chunk_size=50)
                list(h.iter_rows(dataset_id, page_size=100))
            finally:
                emu.clear_faults()
            h.update_metadata(dataset_id, {"description": "leak test"})
            h.publish(dataset_id)
            h.submit_for_public_approval(dataset_id)
            asyncio.run(h.aget_approval_status(dataset_id))
            h.list_asset_freshness([dataset_id])
            for call in (lambda: h.get_view("zzzz-9999"), lambda: h.get_conn().delete(dataset_id)):
                try:
                    call()
                except Exception as exc:  # noqa: BLE001 - we inspect every error
                    logging.getLogger("leaktest").exception("expected failure: %s", exc)
                    errors.append(f"{exc!s} {exc!r}")
            h.log.info("hook %r config %r adapter %r", h, h.config, h.adapter)
        with SocrataHook("socrata_wrong") as bad:
            try:
                bad.get_view(dataset_id)
            except Exception as exc:  # noqa: BLE001
                logging.getLogger("leaktest").exception("expected auth failure")
                errors.append(f"{exc!s} {exc!r}")
        text = captured()
    out, err = capfd.readouterr()
    everything = "\n".join([text, out, err, *errors])
    assert "Socrata POST /resource/" in everything  # the capture really saw the hook's logs
    assert len(errors) == 3
    leaked = sorted(s for s in secrets if s in everything)
    assert leaked == []
    print(f"captured {len(everything)} characters of logs", file=sys.__stdout__)
