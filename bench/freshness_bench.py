"""Print the freshness monitor's time and portal requests for 1,000 public datasets.

    .venv/bin/python bench/freshness_bench.py [--datasets 1000]

Builds a world like the monitor's integration test, ten times bigger: synthetic dataset files,
the portal emulator (a real HTTP server) holding every dataset public and back-dated to mixed
ages, a SQLite registry recording them public, and the local SMTP mailbox (its own process,
as a real mail server would be). Then it times the
monitor's own functions (what the DAG's tasks call), counting the portal's requests with the
emulator's counters:

1. the first freshness pass (reads, decides, e-mails every due and overdue dataset's
   department and one digest to the CDO);
2. the next pass an hour later (the hourly steady state: reads and decides, nothing to send);
3. the comment watch's hourly slice (every public dataset read once a day).

Target from the issue: the monitor under 10 seconds and under 20 portal requests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def portal_requests(emu) -> dict[str, int]:
    return {k: n for k, n in emu.stats()["requests"].items() if "/__emulator/" not in k}


class MailServer:
    """The local mail catcher in its own process, as a real SMTP server would be: its work is
    not the monitor's (in-process, its thread would share the monitor's interpreter lock)."""

    def __init__(self, directory: Path) -> None:
        import socket
        import subprocess

        from opendata.notify.mailbox import local_smtp_connection, read_message

        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._read = read_message
        self._connection = local_smtp_connection(self.port)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "opendata.cli", "mailbox", "--port", str(self.port), "--dir", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("the mail catcher did not start") from None
                time.sleep(0.1)

    def connection(self) -> str:
        return self._connection

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def messages(self) -> list:
        return [self._read(path) for path in self.files()]

    def __enter__(self) -> MailServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=1000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="freshness-bench-"))
    include = work / "include"
    (include / "datasets").mkdir(parents=True)
    shutil.copy(ROOT / "include" / "governance.yaml", include)
    os.environ.update({
        "AIRFLOW_HOME": str(work / "airflow"), "OPENDATA_INCLUDE_DIR": str(include),
        "OPENDATA_STATE_DIR": str(work / "state"), "OPENDATA_REGISTRY_URL": f"sqlite:///{work / 'registry.sqlite'}",
        "AIRFLOW__API__BASE_URL": "http://airflow.example",
    })
    os.environ.pop("AIRFLOW_CONN_OPENDATA_SLACK", None)

    from tests.opendata.freshness.world import MonitorWorld, mixed_portal

    from opendata.freshness.monitor import MonitorSettings, check_freshness, watch_comments
    from portal_emulator.testing import run_emulator

    try:
        with run_emulator(work / "portal", extra_args=["--no-approvals"]) as emu, \
                MailServer(work / "mail") as mailbox:
            user, password = emu.auth("publisher")
            os.environ["AIRFLOW_CONN_SOCRATA_DEFAULT"] = json.dumps({
                "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
                "extra": {"app_token": "bench-app-token"}})
            os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = mailbox.connection()
            world = MonitorWorld(include, emu, mailbox, None, os.environ["OPENDATA_REGISTRY_URL"])
            now = dt.datetime.now(dt.UTC)
            datasets, overdue, due = mixed_portal(now, args.datasets)
            started = time.perf_counter()
            world.publish(datasets, workers=8)
            public = sum(d.stage.is_public for d in datasets)
            print(f"set-up: {len(datasets)} datasets created over HTTP ({public} public; {len(overdue)} overdue, "
                  f"{len(due)} due) in {time.perf_counter() - started:.1f} s")

            settings = MonitorSettings(slack_conn_id=None)
            rows = []
            for label, run in (
                ("freshness, first pass (sends)", lambda: check_freshness(settings)),
                ("freshness, next hour (steady)", lambda: check_freshness(
                    settings, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))),
                ("comment watch, hourly slice", lambda: watch_comments(settings)),
            ):
                emu.reset_stats()
                mails = len(mailbox.files())
                started = time.perf_counter()
                report = run()
                seconds = time.perf_counter() - started
                requests = portal_requests(emu)
                rows.append((label, seconds, sum(requests.values()), len(mailbox.files()) - mails, requests, report))
            digest = [m for m in mailbox.messages() if m["X-OpenData-Event"] == "overdue_digest"]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'pass':<32} {'seconds':>8} {'requests':>9} {'e-mails':>8}")
    for label, seconds, n, mails, _, _ in rows:
        print(f"{label:<32} {seconds:8.2f} {n:9d} {mails:8d}")
    first = rows[0][5]
    assert sorted(first.digest_datasets) == sorted(overdue) and len(digest) == 1, "the digest is wrong"
    print(f"\nfirst pass: {first.monitored} public datasets judged, {len(first.reminded)} department reminders, "
          f"one digest of {len(first.digest_datasets)} overdue datasets")
    for label, _, _, _, requests, _ in rows:
        print(f"  {label}: {requests}")
    hourly = rows[1][1] + rows[2][1], rows[1][2] + rows[2][2]
    print(f"an hourly run (freshness + comment slice): {hourly[0]:.2f} s, {hourly[1]} portal requests")
    # numberOfComments is only in each view's JSON (no bulk source in the documented APIs), so
    # the comment watch costs ceil(public / OPENDATA_COMMENT_SWEEP_RUNS) view reads an hour.
    slow = -(-public // 72)
    print(f"(the comment watch reads every dataset once a day; with OPENDATA_COMMENT_SWEEP_RUNS=72, once every "
          f"three days, an hourly run would make {rows[1][2] + slow} portal requests)")


if __name__ == "__main__":
    main()
