"""What the tests that start the whole demo share."""

from __future__ import annotations

import time

import requests


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
