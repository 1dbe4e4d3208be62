"""A whole publication world for dataset DAG runs: the portal emulator, a real SMTP server,
the sample sources, a private include folder (so a test may edit dataset files) and a private
state folder (registry, staging, fingerprints)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from opendata.dag_factory import build_dag
from opendata.notify import start_mailbox
from opendata.registry import Registry
from opendata.spec.loader import load_catalog
from portal_emulator.testing import EmulatorError, run_emulator
from tests.conftest import REPO_ROOT


@dataclass
class PublicationWorld:
    include: Path
    state: Path
    emu: object
    mailbox: object
    monkeypatch: pytest.MonkeyPatch

    def set_in_dataset(self, dataset_id: str, dotted_key: str, value) -> None:
        """Change one value of a dataset file (the test's private copy)."""
        path = next((self.include / "datasets").glob(f"*/{dataset_id}.yaml"))
        set_value(path, dotted_key, value)

    def dag(self, dataset_id: str):
        catalog = load_catalog(self.include)
        assert catalog.errors == []
        return build_dag(catalog.get(dataset_id), governance=catalog.governance)

    def registry(self) -> Registry:
        return Registry.from_settings()

    def portal_id(self, dataset_id: str) -> str | None:
        state = self.registry().get_state(dataset_id)
        return state.portal_id if state else None

    def anonymous_status(self, portal_id: str) -> int:
        return requests.get(f"{self.emu.url}/resource/{portal_id}.json", timeout=10).status_code

    def approval_state(self, portal_id: str) -> str:
        guidance = requests.get(f"{self.emu.url}/api/views/{portal_id}/approvals",
                                params={"method": "guidance_v2", "assetId": portal_id},
                                auth=self.emu.auth("publisher"), timeout=10).json()
        return guidance["public"]["currentState"]

    def mail(self, subject_part: str) -> list:
        return [m for m in self.mailbox.messages() if subject_part in m["Subject"]]

    def review_when_pending(self, dataset_id: str, decision: str, notes: str = "",
                            before: Callable[[str], None] | None = None, timeout: float = 120) -> threading.Thread:
        """In the background, as the CDO: once the dataset waits for review, decide on it. Like a
        person whose click got an error page, the reviewer looks again and decides again only if
        the decision did not take (a faulty portal may lose the answer after applying it)."""
        failures: list[BaseException] = []

        def reviewer():
            try:
                deadline = time.monotonic() + timeout
                done = before is None
                while time.monotonic() < deadline:
                    try:
                        portal_id = self.portal_id(dataset_id)
                        state = self.approval_state(portal_id) if portal_id else None
                        if state == "pending":
                            if not done:
                                before(portal_id)
                                done = True
                            self.emu.review(portal_id, decision, notes=notes)
                            return
                        if state == decision and done and portal_id:
                            return
                    except (requests.RequestException, ValueError, KeyError, EmulatorError):
                        pass  # an injected fault: look again
                    time.sleep(0.5)
                raise TimeoutError(f"{dataset_id} never waited for review")
            except BaseException as exc:  # reported by the test through .failures
                failures.append(exc)

        thread = threading.Thread(target=reviewer, daemon=True)
        thread.failures = failures
        thread.start()
        return thread


def set_value(path: Path, dotted_key: str, value) -> None:
    data = yaml.safe_load(path.read_text())
    *parents, last = dotted_key.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(params=["lenient", "strict"])
def portal_mode(request) -> str:
    """Every publication test runs against the emulator as it was written (lenient) and in its
    strict mode, which behaves like the recorded portal: drafts hidden until published, approval
    records without reviewer or notes, guessed column types, parses that complete after the bytes
    stop, changes to public datasets held for approval. Strict mode's random lost answers are off
    here because these tests count rows exactly; test_faulty_portal.py loses answers at 30 %."""
    return request.param


@pytest.fixture
def world(tmp_path, monkeypatch, airflow_db, sample_connections, portal_mode) -> PublicationWorld:
    include = tmp_path / "include"
    shutil.copytree(REPO_ROOT / "include", include)
    state = tmp_path / "state"
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(state))
    # Explicit, so that the test's own threads read the registry without asking Airflow for a
    # connection (Airflow's in-process task comms are not thread-safe).
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"sqlite:///{state / 'registry.sqlite'}")
    state.mkdir()
    strict = portal_mode == "strict"
    with run_emulator(tmp_path / "portal", strict=strict, lost_answer_rate=0.0 if strict else None) as emu, \
            start_mailbox(tmp_path / "mail") as mailbox:
        user, password = emu.auth("publisher")
        monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
            "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
            "extra": {"app_token": "test-app-token", "max_retries": 3, "backoff_base": 0.1}}))
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", mailbox.connection())
        for path in (include / "datasets").glob("*/*.yaml"):
            # Poll the portal every ~1 s instead of every 10 minutes.
            set_value(path, "publication.review_poll_minutes", 0.02)
        yield PublicationWorld(include, state, emu, mailbox, monkeypatch)
