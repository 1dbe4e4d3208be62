"""Test helper: run the emulator as a real subprocess on a free port.

    from portal_emulator.testing import run_emulator, DEFAULT_ACCOUNTS

    with run_emulator(tmp_path) as emu:
        client = Socrata(emu.host, None, username="publisher", password="publisher-secret",
                         session_adapter=emu.session_adapter())

Accounts reach the server through ``PORTAL_EMULATOR_ACCOUNTS`` (never argv), and the server log
goes to ``<state_dir>/emulator.log``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from .config import ACCOUNTS_ENV

DEFAULT_ACCOUNTS: dict[str, tuple[str, str]] = {
    "publisher": ("publisher", "publisher-secret"),
    "reviewer": ("cdo", "cdo-secret"),
    "admin": ("admin", "admin-secret"),
}
STATE_FILE = "portal.sqlite"
LOG_FILE = "emulator.log"
START_TIMEOUT = 30.0


class EmulatorError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accounts_env(
    accounts: Mapping[str, tuple[str, str]] | Iterable[tuple[str, str, str]],
) -> tuple[str, dict]:
    """``{role: (name, password)}`` or ``[(name, password, role), ...]`` -> env value and role map."""
    if isinstance(accounts, Mapping):
        triples = [(name, password, role) for role, (name, password) in accounts.items()]
    else:
        triples = [tuple(t) for t in accounts]
    by_role: dict[str, tuple[str, str]] = {}
    for name, password, role in triples:
        if "," in name or "," in password:
            raise ValueError("account names and passwords used by run_emulator cannot contain commas")
        by_role.setdefault(role, (name, password))
    return ",".join(f"{n}:{p}:{r}" for n, p, r in triples), by_role


def _epoch(value: datetime | float | int) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


class Emulator:
    """A running emulator; see :func:`run_emulator`."""

    def __init__(
        self, state_dir: Path, accounts_env: str, accounts: dict[str, tuple[str, str]], args: list[str]
    ):
        self.state_dir = state_dir
        self.state_path = state_dir / STATE_FILE
        self.log_path = state_dir / LOG_FILE
        self.accounts = accounts
        self._accounts_env = accounts_env
        self._args = args
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self._log = None

    # ---- addresses and credentials ----

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def auth(self, role: str = "publisher") -> tuple[str, str]:
        return self.accounts[role]

    def session_adapter(self) -> dict[str, Any]:
        """The ``session_adapter`` that points sodapy at this plain-HTTP server."""
        return {"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()}

    def session(self, role: str | None = "publisher") -> requests.Session:
        s = requests.Session()
        if role:
            s.auth = self.auth(role)
            s.headers["X-Socrata-Host"] = self.host
        return s

    # ---- process control ----

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "portal_emulator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--state",
            str(self.state_path),
            *self._args,
        ]
        env = {**os.environ, ACCOUNTS_ENV: self._accounts_env, "PYTHONUNBUFFERED": "1"}
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                raise EmulatorError(f"emulator exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                r = requests.get(f"{self.url}/__emulator/health", timeout=1)
                if r.status_code == 200 and r.json().get("pid") == self.process.pid:
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        self.stop()
        raise EmulatorError(f"emulator did not answer within {START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._close_log()

    def restart(self) -> None:
        """Stop and start again on the same port and state file (state must survive)."""
        self.stop()
        self.start()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # ---- admin helpers (test-only endpoints, as the admin account) ----

    def _admin(self, method: str, path: str, **kw) -> Any:
        r = requests.request(
            method, f"{self.url}/__emulator{path}", auth=self.auth("admin"), timeout=30, **kw
        )
        if r.status_code != 200:
            raise EmulatorError(f"{method} {path}: HTTP {r.status_code} {r.text}")
        return r.json()

    def set_faults(
        self,
        rate: float = 1.0,
        kinds: Iterable[str] = ("500",),
        *,
        slow_seconds: float | None = None,
        timeout_seconds: float | None = None,
        after_ratio: float | None = None,
        methods: Iterable[str] | None = None,
        path_prefixes: Iterable[str] | None = None,
        count: int | None = None,
        seed: int | None = None,
        retry_after: float | None = None,
        lost_answer_rate: float | None = None,
        lost_answer_seed: int | None = None,
    ) -> dict:
        """Inject faults from now on. ``count`` faults exactly the next N matching requests.
        ``lost_answer_rate`` (with its seed) changes the lost answers; None leaves them as they are."""
        body: dict[str, Any] = {
            "rate": rate,
            "kinds": [str(k) for k in kinds],
            "count": count,
            "seed": seed,
            "retry_after": retry_after,
            "methods": list(methods) if methods else None,
            "path_prefixes": list(path_prefixes) if path_prefixes else None,
        }
        for key, value in (
            ("slow_seconds", slow_seconds),
            ("timeout_seconds", timeout_seconds),
            ("after_ratio", after_ratio),
            ("lost_answer_rate", lost_answer_rate),
            ("lost_answer_seed", lost_answer_seed),
        ):
            if value is not None:
                body[key] = value
        return self._admin("POST", "/faults", json=body)

    def clear_faults(self) -> dict:
        return self._admin("DELETE", "/faults")

    def stats(self) -> dict:
        return self._admin("GET", "/stats")

    def reset_stats(self) -> dict:
        return self._admin("POST", "/stats/reset")

    def set_comments(self, dataset_id: str, n: int) -> dict:
        return self._admin("POST", f"/datasets/{dataset_id}/comments", json={"numberOfComments": n})

    def set_timestamps(
        self,
        dataset_id: str,
        *,
        data_updated_at: datetime | float | None = None,
        metadata_updated_at: datetime | float | None = None,
        created_at: datetime | float | None = None,
        publication_date: datetime | float | None = None,
    ) -> dict:
        body = {
            key: _epoch(value)
            for key, value in (
                ("dataUpdatedAt", data_updated_at),
                ("metadataUpdatedAt", metadata_updated_at),
                ("createdAt", created_at),
                ("publicationDate", publication_date),
            )
            if value is not None
        }
        return self._admin("POST", f"/datasets/{dataset_id}/timestamps", json=body)

    # ---- the reviewer's side ----

    def review(self, dataset_id: str, state: str, notes: str = "", revision_seq: int | None = None) -> dict:
        """Approve or reject the dataset's pending request through the HTTP Approvals API; with
        ``revision_seq``, the revision held for approval (strict mode; ``assetId`` ``4x4:seq``)."""
        s = self.session("reviewer")
        asset = dataset_id if revision_seq is None else f"{dataset_id}:{revision_seq}"
        r = s.get(
            f"{self.url}/api/views/{dataset_id}/approvals",
            params={"method": "guidance_v2", "assetId": asset},
            timeout=30,
        )
        if r.status_code != 200:
            raise EmulatorError(f"guidance for {dataset_id}: HTTP {r.status_code} {r.text}")
        guidance = r.json()["public"]
        if guidance["currentState"] != "pending":
            raise EmulatorError(f"{dataset_id} has no pending approval (state {guidance['currentState']})")
        r = s.put(guidance["updateUrl"], json={"state": state, "notes": notes}, timeout=30)
        if r.status_code != 200:
            raise EmulatorError(f"review of {dataset_id}: HTTP {r.status_code} {r.text}")
        return r.json()


@contextmanager
def run_emulator(
    state_dir: str | os.PathLike,
    *,
    accounts: Mapping[str, tuple[str, str]] | Iterable[tuple[str, str, str]] | None = None,
    fault_rate: float = 0.0,
    fault_kinds: Iterable[str] | None = None,
    strict: bool | None = None,
    parse_complete_seconds: float | None = None,
    lost_answer_rate: float | None = None,
    lost_answer_seed: int | None = None,
    extra_args: Iterable[str] = (),
) -> Iterator[Emulator]:
    """Start ``python -m portal_emulator serve`` on a free port; stop it (and close its log) on exit.

    ``strict`` True/False passes ``--strict``/``--no-strict``; None leaves it to
    ``$PORTAL_EMULATOR_STRICT``. The other strict-mode settings default to strict mode's own
    (``--parse-complete-seconds 1``, ``--lost-answer-rate 0.03``) when not given."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    env_value, by_role = _accounts_env(DEFAULT_ACCOUNTS if accounts is None else accounts)
    args = ["--fault-rate", str(fault_rate), "--fault-kinds", ",".join(fault_kinds or ["500"])]
    if strict is not None:
        args.append("--strict" if strict else "--no-strict")
    for flag, value in (
        ("--parse-complete-seconds", parse_complete_seconds),
        ("--lost-answer-rate", lost_answer_rate),
        ("--lost-answer-seed", lost_answer_seed),
    ):
        if value is not None:
            args += [flag, str(value)]
    args += list(extra_args)
    emu = Emulator(state, env_value, by_role, args)
    for attempt in range(3):
        try:
            emu.start()
            break
        except EmulatorError:
            # A free port can be taken between probing and binding; try another one.
            if attempt == 2 or "address already in use" not in emu.log_tail().lower():
                raise
            emu.port = _free_port()
    try:
        yield emu
    finally:
        emu.stop()
