"""What the tests that start the whole demo share."""

from __future__ import annotations

import os
import shutil
import time

import pytest
import requests

#: Set to 1 to run without a browser: the browser tests skip (and Step 1 is answered through the
#: API). Without it, a machine with no Chromium fails them: CI must not pass untested.
SKIP_BROWSER_TESTS = "OPENDATA_SKIP_BROWSER_TESTS"
#: The Chromium (or Chrome) to drive, when it is not `chromium` or `chromium-browser` on PATH.
CHROMIUM = "OPENDATA_CHROMIUM"
INSTALL_CHROMIUM = (f"install Chromium (Debian/Ubuntu: apt-get install chromium; elsewhere any Chromium or "
                    f"Chrome, named by {CHROMIUM}=/path/to/it; README, 'Tests'), or set {SKIP_BROWSER_TESTS}=1 "
                    "to skip the browser tests")


def chromium_executable() -> str | None:
    """The browser Playwright drives (Playwright's own browser download is not used): ``$OPENDATA_CHROMIUM``,
    else ``chromium`` or ``chromium-browser`` on PATH. None when there is none and
    ``OPENDATA_SKIP_BROWSER_TESTS=1`` (the caller skips); without that, the test fails saying how to
    install one."""
    configured = os.environ.get(CHROMIUM, "").strip()
    if configured:
        found = shutil.which(configured)
        if found is None:
            pytest.fail(f"{CHROMIUM}={configured} is not an executable file: {INSTALL_CHROMIUM}", pytrace=False)
        return found
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get(SKIP_BROWSER_TESTS) != "1":
        pytest.fail(f"no Chromium on this machine (chromium, chromium-browser or {CHROMIUM}): {INSTALL_CHROMIUM}",
                    pytrace=False)
    return found


def wait_for_scheduler_loops(airflow_url: str, loops: int, timeout: float = 180) -> None:
    """Until the scheduler has heartbeated ``loops`` times more (it heartbeats once a loop).

    Airflow 3.3.2 race: a human-in-the-loop answer that lands before the scheduler processed the
    task's deferral makes the scheduler retry the task (and ask again, after the retry delay).
    People take longer than a scheduler loop to answer; tests wait for the loops, which a fixed
    sleep does not do when a loaded machine slows the scheduler."""
    def beat():
        health = requests.get(f"{airflow_url}/api/v2/monitor/health", timeout=10)
        return health.json()["scheduler"]["latest_scheduler_heartbeat"]

    seen = [beat()]
    deadline = time.monotonic() + timeout
    while len(seen) <= loops:
        assert time.monotonic() < deadline, f"the scheduler did not heartbeat {loops} times in {timeout} s"
        time.sleep(0.5)
        if (current := beat()) != seen[-1]:
            seen.append(current)


def signed_in(airflow_url: str, user: str, password: str) -> requests.Session:
    """A session on Airflow's API signed in as ``user`` (the simple auth manager's token)."""
    token = requests.post(f"{airflow_url}/auth/token", json={"username": user, "password": password}, timeout=10)
    token.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session


def stop_demo(process, timeout: float) -> int:
    """Ctrl-C, as a person stops `make run`; killed if it has not stopped within ``timeout``."""
    import signal
    import subprocess

    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
