"""The main job on embedded defaults: ``opendata demo`` (what ``make run`` calls).

Brings up, on one machine and with nothing to configure:
- the local Socrata portal emulator (state in .local/portal/, reviewer page at /review),
- the sample sources (a SQLite database, the bundled CSV, a paged JSON API),
- a local mailbox that keeps every notification e-mail as a file (.local/mail),
- Airflow standalone (SQLite metadata database, LocalExecutor with low parallelism),
and checks that every dataset DAG parsed without import errors before saying it is ready.
Ctrl-C stops everything cleanly.

Secrets (the portal accounts' passwords) are generated for the session unless given in the
environment, and passed to the processes only through their environment.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from opendata import settings
from opendata.notify.mailbox import local_smtp_connection

# Restores default SIGINT handling in the child: a process started in the background from a
# non-interactive shell inherits SIGINT as ignored, and `airflow standalone` only shuts its
# components down cleanly on SIGINT.
_SIGINT_WRAPPER = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                   "os.execvp(sys.argv[1], sys.argv[1:])")


@dataclass
class DemoConfig:
    root: Path
    airflow_port: int = 8080
    portal_port: int = 8765
    source_api_port: int = 8766
    mail_port: int = 8025
    publisher: tuple[str, str] = ("opendata-pipeline", "")
    reviewer: tuple[str, str] = ("cdo", "")

    @property
    def local(self) -> Path:
        """Everything the demo writes: Airflow home, portal state, logs (git-ignored)."""
        return Path(os.environ.get("OPENDATA_DEMO_DIR", self.root / ".local"))

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}"


@dataclass
class Processes:
    running: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.running[name] = process
        return process

    def stop_all(self) -> None:
        airflow = self.running.pop("airflow", None)
        if airflow is not None and airflow.poll() is None:
            print("Stopping Airflow (this takes a few seconds)...", flush=True)
            airflow.send_signal(signal.SIGINT)
            _wait_or_kill(airflow, 60)
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            _wait_or_kill(process, 15)
        self.running.clear()


def _wait_or_kill(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def environment(config: DemoConfig) -> dict[str, str]:
    """The environment every process of the demo shares."""
    local = config.local
    publisher_user, publisher_password = config.publisher
    env = dict(os.environ)
    # `airflow standalone` starts its components as `airflow ...` from PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({
        "AIRFLOW_HOME": str(local / "airflow"),
        # The embedded default: a SQLite metadata database (production uses PostgreSQL).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{local / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(config.root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Two cores: a few task slots, not Airflow's default 32 pre-forked workers.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # A local demo: everyone who opens the UI is an admin, no password to hunt for.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__PORT": str(config.airflow_port),
        "AIRFLOW__API__BASE_URL": config.airflow_url,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "OPENDATA_INCLUDE_DIR": str(config.root / "include"),
        "OPENDATA_STATE_DIR": str(local / "state"),
        # The publication registry: a SQLite file by default (PostgreSQL in production).
        "OPENDATA_REGISTRY_URL": f"sqlite:///{local / 'state' / 'registry.sqlite'}",
        "AIRFLOW_CONN_SOCRATA_DEFAULT": json.dumps({
            "conn_type": "socrata", "host": config.portal_url,
            "login": publisher_user, "password": publisher_password,
            "extra": {"app_token": "local-demo-app-token"},
        }),
        "AIRFLOW_CONN_PERMITS_DB": f"sqlite:///{local / 'sources' / 'permits.sqlite'}",
        "AIRFLOW_CONN_INSPECTIONS_API": f"http://127.0.0.1:{config.source_api_port}",
        # Every notification lands in the local mailbox (.local/mail) instead of real inboxes.
        "AIRFLOW_CONN_SMTP_DEFAULT": local_smtp_connection(config.mail_port),
        # Check the portal for the CDO's decision every 15 s instead of every 10 minutes.
        "OPENDATA_REVIEW_POLL_SECONDS": "15",
    })
    return env


def _secret(variable: str) -> str:
    return os.environ.get(variable) or secrets.token_urlsafe(18)


def run(root: Path, check_only: bool = False, timeout: float = 300) -> int:
    config = DemoConfig(
        root=root,
        airflow_port=int(os.environ.get("OPENDATA_AIRFLOW_PORT", 8080)),
        portal_port=int(os.environ.get("OPENDATA_PORTAL_PORT", 8765)),
        source_api_port=int(os.environ.get("OPENDATA_SOURCE_API_PORT", 8766)),
        mail_port=int(os.environ.get("OPENDATA_MAIL_PORT", 8025)),
        publisher=("opendata-pipeline", _secret("OPENDATA_PORTAL_PASSWORD")),
        reviewer=("cdo", _secret("OPENDATA_REVIEWER_PASSWORD")),
    )
    env = environment(config)
    logs = config.local / "logs"
    processes = Processes()

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C must work even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _prepare_sources(config)
        accounts = [f"{config.publisher[0]}:{config.publisher[1]}:publisher",
                    f"{config.reviewer[0]}:{config.reviewer[1]}:reviewer"]
        if os.environ.get("OPENDATA_PORTAL_ADMIN_PASSWORD"):
            # Only when asked for: the emulator's counters and fault injection (tests use them).
            accounts.append(f"admin:{os.environ['OPENDATA_PORTAL_ADMIN_PASSWORD']}:admin")
        portal_env = dict(env, PORTAL_EMULATOR_ACCOUNTS=",".join(accounts))
        for folder in ("portal", "state"):
            (config.local / folder).mkdir(parents=True, exist_ok=True)
        processes.start("portal", [sys.executable, "-m", "portal_emulator", "serve", "--host", "127.0.0.1",
                                   "--port", str(config.portal_port),
                                   "--state", str(config.local / "portal" / "state.sqlite")], portal_env, logs)
        processes.start("mailbox", [sys.executable, "-m", "opendata", "mailbox", "--port", str(config.mail_port),
                                    "--dir", str(config.local / "mail")], env, logs)
        processes.start("source-api", [sys.executable, "-m", "opendata", "samples", "serve-api",
                                       "--port", str(config.source_api_port)], env, logs)
        airflow = str(Path(sys.executable).with_name("airflow"))
        processes.start("airflow", [sys.executable, "-c", _SIGINT_WRAPPER, airflow, "standalone"], env, logs)
        print(f"Starting the portal emulator, the sample sources and Airflow (logs in {logs})...", flush=True)
        _wait_until_ready(config, processes, timeout)
        _print_banner(config, logs)
        if check_only:
            return 0
        while all(p.poll() is None for p in processes.running.values()):
            time.sleep(1)
        crashed = [name for name, p in processes.running.items() if p.poll() is not None]
        print(f"Stopped: {', '.join(crashed)} exited; see {logs}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except DemoError as exc:
        print(f"Demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()


class DemoError(RuntimeError):
    pass


def _prepare_sources(config: DemoConfig) -> None:
    from opendata.samples.sql import load_permits

    database = config.local / "sources" / "permits.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    load_permits(f"sqlite:///{database}", config.root / "include" / "sample_sources" / "building_permits.csv")


def _wait_until_ready(config: DemoConfig, processes: Processes, timeout: float) -> None:
    from opendata.spec.loader import load_catalog

    expected = {loaded.spec.id for loaded in load_catalog(config.root / "include").datasets}
    deadline = time.monotonic() + timeout
    last_problem = "Airflow has not answered yet"
    while time.monotonic() < deadline:
        for name, process in processes.running.items():
            if process.poll() is not None:
                raise DemoError(f"{name} exited with code {process.returncode}; see {config.local}/logs/{name}.log")
        try:
            health = requests.get(f"{config.airflow_url}/api/v2/monitor/health", timeout=5).json()
            unhealthy = [k for k, v in health.items() if isinstance(v, dict) and v.get("status") != "healthy"]
            portal = requests.get(f"{config.portal_url}/api/catalog/v1", timeout=5)
            if unhealthy:
                last_problem = f"waiting for {', '.join(unhealthy)}"
            elif portal.status_code != 200:
                last_problem = f"the portal emulator answered {portal.status_code}"
            else:
                dags = requests.get(f"{config.airflow_url}/api/v2/dags", params={"limit": 100}, timeout=5).json()
                errors = requests.get(f"{config.airflow_url}/api/v2/importErrors", timeout=5).json()
                parsed = {dag["dag_id"] for dag in dags.get("dags", [])}
                if errors.get("total_entries"):
                    details = "; ".join(e.get("stack_trace", "").strip().splitlines()[-1]
                                        for e in errors.get("import_errors", []))
                    raise DemoError(f"import errors in the DAG folder: {details}")
                if expected <= parsed:
                    return
                last_problem = f"waiting for DAGs: {', '.join(sorted(expected - parsed))}"
        except requests.RequestException:
            pass
        time.sleep(2)
    raise DemoError(f"not ready after {timeout:.0f} s: {last_problem}")


def _print_banner(config: DemoConfig, logs: Path) -> None:
    from opendata.spec.loader import load_catalog

    ids = sorted(loaded.spec.id for loaded in load_catalog(config.root / "include").datasets)
    reviewer_user, reviewer_password = config.reviewer
    if "OPENDATA_REVIEWER_PASSWORD" in os.environ:
        login = f"user {reviewer_user!r}, password from $OPENDATA_REVIEWER_PASSWORD"
    elif sys.stdout.isatty():
        # Shown once, on the terminal only, never written to a log file.
        login = f"user {reviewer_user!r}, password for this session: {reviewer_password}"
    else:
        login = f"user {reviewer_user!r}; set OPENDATA_REVIEWER_PASSWORD to choose the password"
    lines = [
        "",
        "Ready.",
        f"  Airflow UI:        {config.airflow_url}   (dataset DAGs: {', '.join(ids)})",
        f"  Portal emulator:   {config.portal_url}",
        f"  CDO review page:   {config.portal_url}/review   ({login})",
        f"  Notifications:     {config.local / 'mail'}   (every e-mail the pipeline sends, as .eml files)",
        f"  Logs:              {logs}",
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)


def main(check_only: bool = False) -> int:
    root = settings.include_dir().parent
    return run(root, check_only=check_only)
