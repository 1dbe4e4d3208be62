"""The main job on embedded defaults: ``opendata demo`` (what ``make run`` calls).

Brings up, on one machine and with nothing to configure:
- the local Socrata portal emulator (state in .local/portal/, reviewer page at /review),
- the sample sources (a SQLite database, the bundled CSV, a paged JSON API),
- a local mailbox that keeps every notification e-mail as a file (.local/mail),
- Airflow (SQLite metadata database, LocalExecutor with low parallelism): its components one
  after the other, each waited for before the next starts, the scheduler last,
and says "Ready." only when a task can run. Ctrl-C stops everything cleanly. ``opendata demo
--celery`` runs the same on the CeleryExecutor with workers that share no disk
(:mod:`opendata.cluster.launcher`, built from this module's pieces: :class:`AirflowStarter`,
:class:`Processes`, the helpers and the settings).

Why in order: a task's process talks to the API server (the Task SDK's execution API lives
there). ``airflow standalone`` starts every component at once, so on a busy machine the
scheduler queued the first tasks before the API server listened; each first attempt failed
with "Connection refused" and waited for the retry delay (5 minutes). Here the API server
answers (core and execution API) before the DAG processor, the triggerer and finally the
scheduler start, and each is seen heartbeating before the next one starts.

Secrets (the portal accounts' passwords) are generated for the session unless given in the
environment. They reach the processes through their environment and two files only the user
can read: ``demo.env`` (the settings every ``opendata`` command reads from another terminal,
see :mod:`opendata.deployment`) and ``reviewer-password`` (the CDO's sign-in on /review).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from opendata import settings
from opendata.deployment import (
    AIRFLOW_PASSWORDS_FILE,
    ENV_FILE_NAME,
    REVIEWER_PASSWORD_FILE,
    write_env_file,
    write_private_file,
)
from opendata.notify.mailbox import local_smtp_connection

# A log grows across starts (each start appends a dated separator, so the last failure stays
# readable); past this size it is moved to NAME.log.1 first, replacing an older one.
LOG_ROTATE_BYTES = 20 * 1024 * 1024

# Airflow's components in start order: each is waited for before the next starts. Tasks need
# the API server (execution API); the scheduler, which queues them, comes last.
AIRFLOW_COMPONENTS = ("api-server", "dag-processor", "triggerer", "scheduler")


@dataclass
class DemoConfig:
    root: Path
    airflow_port: int = 8080
    portal_port: int = 8765
    source_api_port: int = 8766
    mail_port: int = 8025
    # Airflow's log servers (the scheduler's workers, the triggerer): fixed ports by default, so
    # two demos on one machine would collide there.
    worker_log_port: int = 8793
    trigger_log_port: int = 8794
    publisher: tuple[str, str] = ("opendata-pipeline", "")
    reviewer: tuple[str, str] = ("cdo", "")
    # Airflow sign-in: every person of governance.yaml under their Airflow user name (the key, or
    # their airflow_user), one password for the session; the first is the CDO.
    people: dict[str, str] = field(default_factory=dict)
    airflow_password: str = ""
    # The emulator's admin account (counters, fault injection), only when asked for (tests).
    portal_admin_password: str = ""
    # Where the demo writes (None: $OPENDATA_DEMO_DIR, else .local/ of the project), the dataset
    # files and the DAG files (None: the project's include/ and dags/). A bench or a test hands
    # its own.
    local_dir: Path | None = None
    include: Path | None = None
    dags: Path | None = None

    @property
    def local(self) -> Path:
        """Everything the demo writes: Airflow home, portal state, logs (git-ignored)."""
        if self.local_dir is not None:
            return self.local_dir
        return Path(os.environ.get("OPENDATA_DEMO_DIR", self.root / ".local"))

    @property
    def include_dir(self) -> Path:
        return self.include if self.include is not None else self.root / "include"

    @property
    def dags_dir(self) -> Path:
        return self.dags if self.dags is not None else self.root / "dags"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def execution_api_url(self) -> str:
        return f"{self.airflow_url}/execution/"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}"

    @property
    def env_file(self) -> Path:
        return self.local / ENV_FILE_NAME

    @property
    def reviewer_password_file(self) -> Path:
        return self.local / REVIEWER_PASSWORD_FILE

    @property
    def airflow_passwords_file(self) -> Path:
        return self.local / AIRFLOW_PASSWORDS_FILE

    @property
    def watcher(self) -> str:
        """Who the demo itself signs in as to read Airflow's API: the CDO."""
        return next(iter(self.people))

    def ports(self) -> dict[str, int]:
        """Every port the demo listens on, by the variable that moves it."""
        return {"OPENDATA_AIRFLOW_PORT": self.airflow_port, "OPENDATA_PORTAL_PORT": self.portal_port,
                "OPENDATA_SOURCE_API_PORT": self.source_api_port, "OPENDATA_MAIL_PORT": self.mail_port,
                "OPENDATA_WORKER_LOG_PORT": self.worker_log_port, "OPENDATA_TRIGGER_LOG_PORT": self.trigger_log_port}


def open_log(path: Path, what: str):
    """``path`` opened for appending, after a separator line naming this start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > LOG_ROTATE_BYTES:
        os.replace(path, path.with_name(path.name + ".1"))
    log = path.open("ab")
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    log.write(f"\n===== {stamp} opendata demo (pid {os.getpid()}) starts {what} =====\n".encode())
    log.flush()
    return log


@dataclass
class Processes:
    log_dir: Path
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    stop_first: tuple[str, ...] = ()

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open_log(self.log(name), " ".join(command[-2:]) if len(command) > 1 else command[0]) as log:
            # A session of its own: Ctrl-C on the terminal reaches the demo only, which stops
            # the components in order; killing the group also ends what a component started.
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.running[name] = process
        return process

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise DemoError(f"{name} exited with code {process.returncode}; see {self.log(name)}")

    def stop_all(self) -> None:
        airflow = [name for name in reversed(AIRFLOW_COMPONENTS) if name in self.running]
        if any(self.running[name].poll() is None for name in airflow):
            print("Stopping Airflow (this takes a few seconds)...", flush=True)
        # The scheduler first (nothing new is queued, its workers end), then the processes named
        # in ``stop_first`` (the distributed run's Celery workers, which still upload task logs to
        # the object store), then the rest together.
        for stage in (("scheduler",), self.stop_first):
            stopping = [self.running.pop(name) for name in stage if name in self.running]
            for process in stopping:
                if process.poll() is None:
                    process.terminate()
            for process in stopping:
                _stop(process, 60)
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            _stop(process, 30)
        self.running.clear()


def _stop(process: subprocess.Popen, seconds: float) -> None:
    """SIGTERM the process, wait, then SIGKILL whatever is left of its process group."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def demo_settings(config: DemoConfig) -> dict[str, str]:
    """What the demo's processes are configured with (and ``demo.env`` holds for other terminals)."""
    local = config.local
    publisher_user, publisher_password = config.publisher
    return {
        "AIRFLOW_HOME": str(local / "airflow"),
        # The embedded default: a SQLite metadata database (production uses PostgreSQL).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{local / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.dags_dir),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(config.root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Two cores: a few task slots, not Airflow's default 32 pre-forked workers.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # People sign in under their governance names, so a Step 1 answer is recorded as theirs
        # (all-admins mode would record "Anonymous"). Airflow's simple auth manager: a local
        # demo's; a deployment maps its own sign-in (FAB, Keycloak...) to the same user names,
        # see README "Who answers Step 1". Everyone is admin here; the API server listens on
        # this machine only.
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{user}:admin" for user in config.people),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(config.airflow_passwords_file),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(config.airflow_port),
        "AIRFLOW__API__BASE_URL": config.airflow_url,
        # Where task processes reach the execution API (the API server).
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": config.execution_api_url,
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(config.worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(config.trigger_log_port),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "OPENDATA_INCLUDE_DIR": str(config.include_dir),
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
    }


def environment(config: DemoConfig, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every process of the demo shares: ``base`` (this process's environment by
    default) with the demo's settings."""
    env = dict(os.environ if base is None else base)
    # Airflow's commands run from the project's virtual environment.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("OPENDATA_ENV_FILE", None)
    env.update(demo_settings(config))
    return env


def _secret(variable: str) -> str:
    return os.environ.get(variable) or secrets.token_urlsafe(18)


def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise DemoError(f"{variable}={raw!r}: give a port number") from None


def load_config(root: Path) -> DemoConfig:
    return DemoConfig(
        root=root,
        airflow_port=_port("OPENDATA_AIRFLOW_PORT", 8080),
        portal_port=_port("OPENDATA_PORTAL_PORT", 8765),
        source_api_port=_port("OPENDATA_SOURCE_API_PORT", 8766),
        mail_port=_port("OPENDATA_MAIL_PORT", 8025),
        worker_log_port=_port("OPENDATA_WORKER_LOG_PORT", 8793),
        trigger_log_port=_port("OPENDATA_TRIGGER_LOG_PORT", 8794),
        publisher=("opendata-pipeline", _secret("OPENDATA_PORTAL_PASSWORD")),
        reviewer=("cdo", _secret("OPENDATA_REVIEWER_PASSWORD")),
        people=_governance_people(root / "include"),
        airflow_password=_secret("OPENDATA_AIRFLOW_PASSWORD"),
        portal_admin_password=os.environ.get("OPENDATA_PORTAL_ADMIN_PASSWORD", ""),
    )


def _governance_people(include: Path) -> dict[str, str]:
    """Airflow user name -> name, the CDO first, for every person of governance.yaml."""
    from opendata.spec.loader import load_governance

    governance, errors = load_governance(settings.governance_file(include), root=include)
    if governance is None:
        raise DemoError("governance.yaml has errors (run `opendata lint`): " + "; ".join(map(str, errors[:3])))
    keys = [governance.chief_data_officer] + [key for key in governance.people if key != governance.chief_data_officer]
    return {(governance.people[key].airflow_user or key): governance.people[key].name for key in keys}


def run(root: Path, check_only: bool = False, timeout: float = 600) -> int:
    started = time.monotonic()

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C must work even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    processes: Processes | None = None
    try:
        config = load_config(root)
        env = environment(config)
        logs = config.local / "logs"
        processes = Processes(logs)
        _refuse_busy_ports(config)
        _prepare_sources(config)
        _write_settings(config)
        print(f"Starting the portal emulator, the sample sources and Airflow (logs in {logs})...", flush=True)
        _start_helpers(config, env, processes)
        _start_airflow(config, env, processes, started, deadline=started + timeout)
        _print_banner(config, logs, time.monotonic() - started)
        if check_only:
            return 0
        return watch(config, processes, logs)
    except KeyboardInterrupt:
        return 0
    except DemoError as exc:
        print(f"Demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if processes is not None:
            processes.stop_all()


def watch(config: DemoConfig, processes: Processes, logs: Path) -> int:
    """Report finished tasks (:class:`TaskWatcher`) until a process exits; then say which (1)."""
    watcher = TaskWatcher(config)
    while all(p.poll() is None for p in processes.running.values()):
        watcher.poll()
        time.sleep(1)
    crashed = [name for name, p in processes.running.items() if p.poll() is not None]
    print(f"Stopped: {', '.join(crashed)} exited; see {logs}", file=sys.stderr)
    return 1


class DemoError(RuntimeError):
    pass


def _refuse_busy_ports(config: DemoConfig) -> None:
    for variable, port in config.ports().items():
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise DemoError(f"port {port} is already in use (another demo still running?); stop it, or move "
                                f"this demo with {variable}=<port>")


def _prepare_sources(config: DemoConfig) -> None:
    from opendata.samples.sql import load_permits

    database = config.local / "sources" / "permits.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    # The bundled sample, whatever include folder the DAGs are built from.
    load_permits(f"sqlite:///{database}", config.root / "include" / "sample_sources" / "building_permits.csv")


def _write_settings(config: DemoConfig, values: dict[str, str] | None = None) -> None:
    """The files only the user can read: the settings for other terminals (``values``, by default
    the demo's settings), the CDO's password."""
    write_env_file(config.env_file, demo_settings(config) if values is None else values, header=(
        "Written by `opendata demo` at each start: the settings of the running demo, with this session's\n"
        "portal password (readable by you only). Every `opendata` command reads it when the environment\n"
        "names no deployment of its own (no AIRFLOW_HOME, OPENDATA_STATE_DIR, OPENDATA_REGISTRY_URL).\n"
        "For other tools: set -a; . ./.local/demo.env; set +a"))
    write_private_file(config.reviewer_password_file, config.reviewer[1] + "\n")
    # Airflow's simple auth manager reads it (and would print generated passwords into its log).
    write_private_file(config.airflow_passwords_file,
                       json.dumps({user: config.airflow_password for user in config.people}, indent=1) + "\n")


def _sign_in_hint(config: DemoConfig) -> str:
    return (f"Local demo: sign in as {config.reviewer[0]!r} with the password in {config.reviewer_password_file} "
            f"(readable only by the user who ran make run).")


def _start_helpers(config: DemoConfig, env: dict[str, str], processes: Processes) -> None:
    accounts = [f"{config.publisher[0]}:{config.publisher[1]}:publisher",
                f"{config.reviewer[0]}:{config.reviewer[1]}:reviewer"]
    if config.portal_admin_password:
        # Only when asked for: the emulator's counters and fault injection (tests use them).
        accounts.append(f"admin:{config.portal_admin_password}:admin")
    portal_env = dict(env, PORTAL_EMULATOR_ACCOUNTS=",".join(accounts),
                      PORTAL_EMULATOR_SIGN_IN_HINT=_sign_in_hint(config))
    for folder in ("portal", "state"):
        (config.local / folder).mkdir(parents=True, exist_ok=True)
    processes.start("portal", [sys.executable, "-m", "portal_emulator", "serve", "--host", "127.0.0.1",
                               "--port", str(config.portal_port),
                               "--state", str(config.local / "portal" / "state.sqlite")], portal_env)
    processes.start("mailbox", [sys.executable, "-m", "opendata", "mailbox", "--port", str(config.mail_port),
                                "--dir", str(config.local / "mail")], env)
    processes.start("source-api", [sys.executable, "-m", "opendata", "samples", "serve-api",
                                   "--port", str(config.source_api_port)], env)


def _airflow(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("airflow")), *args]


def _start_airflow(config: DemoConfig, env: dict[str, str], processes: Processes, started: float,
                   deadline: float) -> None:
    """The metadata database, then each component in order, each waited for."""
    starter = AirflowStarter(config, processes, started, deadline)
    starter.migrate(env)
    # The pool every portal-writing task takes a slot of: without it the scheduler leaves them queued.
    starter.pools(env)
    starter.wait_for_helpers()
    for component in AIRFLOW_COMPONENTS:
        starter.component(component, env)
    starter.wait_healthy()


@dataclass
class AirflowStarter:
    """Starts Airflow's pieces one at a time, each waited for (the demo's order; the distributed
    launcher, :mod:`opendata.cluster.launcher`, uses the same steps with its own environments)."""

    config: DemoConfig
    processes: Processes
    started: float
    deadline: float
    # The DAG ids the DAG processor must have parsed before the next component starts (None:
    # one per dataset file of the include folder).
    expected: set[str] | None = None

    def __post_init__(self) -> None:
        self.waiter = Waiter(self.config, self.processes, self.deadline)
        self.api = AirflowApi(self.config)

    def say(self, message: str) -> None:
        print(f"  [{time.monotonic() - self.started:5.0f} s] {message}", flush=True)

    def run_once(self, name: str, command: list[str], env: dict[str, str]) -> None:
        """A one-off command (``airflow db migrate``...), its output appended to logs/NAME.log."""
        with open_log(self.processes.log(name), " ".join(command[-2:])) as log:
            done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=max(self.deadline - time.monotonic(), 60))
        if done.returncode != 0:
            raise DemoError(f"{' '.join(command[-2:])} failed (code {done.returncode}); see {self.processes.log(name)}")

    def migrate(self, env: dict[str, str]) -> None:
        self.run_once("airflow-db", _airflow("db", "migrate"), env)

    def wait_for_helpers(self) -> None:
        config = self.config
        self.waiter.wait("the portal emulator", lambda: _answers(f"{config.portal_url}/api/catalog/v1"))
        self.waiter.wait("the sample JSON API",
                         lambda: _answers(f"http://127.0.0.1:{config.source_api_port}/api/v1/inspections"))
        self.waiter.wait("the mailbox", lambda: _listens(config.mail_port))
        self.say("portal emulator, sample sources and mailbox answer; Airflow's database is ready")

    def component(self, component: str, env: dict[str, str], command: list[str] | None = None) -> None:
        """Start one of AIRFLOW_COMPONENTS and wait until it works (answers, or heartbeats)."""
        config = self.config
        since = dt.datetime.now(dt.UTC)
        self.processes.start(component, command or _airflow(component), env)
        if component == "api-server":
            self.waiter.wait("the Airflow API server", lambda: _api_server_answers(config))
            self.say("Airflow API server answers (UI, REST and the execution API tasks use)")
        elif component == "dag-processor":
            expected = self.expected_dags()
            self.waiter.wait("the DAG processor", functools.partial(_heartbeat_since, config, "dag_processor", since))
            self.waiter.wait("every DAG to be parsed", functools.partial(_dags_parsed, self.api, expected, since))
            self.say(f"DAG processor running; {len(expected)} DAGs parsed, no import errors")
        else:
            key = component.replace("-", "_")
            self.waiter.wait(f"the {component}", functools.partial(_heartbeat_since, config, key, since))
            self.say(f"{component} running")

    def expected_dags(self) -> set[str]:
        return self.expected if self.expected is not None else _expected_dags(self.config)

    def pools(self, env: dict[str, str]) -> None:
        """The Airflow pools the dataset DAGs use (``opendata pools``; idempotent)."""
        self.run_once("airflow-db", [sys.executable, "-m", "opendata", "pools"], env)

    def wait_healthy(self) -> None:
        """Last, as a task would see it: the execution API answers and every component is healthy."""
        self.waiter.wait("Airflow to be healthy", lambda: _all_healthy(self.config))


@dataclass
class Waiter:
    config: DemoConfig
    processes: Processes
    deadline: float

    def wait(self, what: str, check: Callable[[], str | None]) -> None:
        """Until ``check`` returns None (ready); it returns what it still waits for otherwise."""
        problem: str | None = "no answer yet"
        while time.monotonic() < self.deadline:
            self.processes.check_alive()
            try:
                problem = check()
            except requests.RequestException as exc:
                problem = f"no answer yet ({type(exc).__name__})"
            if problem is None:
                return
            time.sleep(0.5)
        raise DemoError(f"not ready in time: waiting for {what}: {problem}; logs in {self.processes.log_dir}")


def _answers(url: str) -> str | None:
    response = requests.get(url, timeout=5)
    return None if response.status_code == 200 else f"{url} answered {response.status_code}"


def _listens(port: int) -> str | None:
    with socket.socket() as probe:
        probe.settimeout(2)
        return None if probe.connect_ex(("127.0.0.1", port)) == 0 else f"nothing listens on port {port} yet"


def _health(config: DemoConfig) -> dict:
    return requests.get(f"{config.airflow_url}/api/v2/monitor/health", timeout=10).json()


def _api_server_answers(config: DemoConfig) -> str | None:
    database = _health(config).get("metadatabase", {}).get("status")
    if database != "healthy":
        return f"metadata database {database}"
    execution = requests.get(f"{config.execution_api_url}health", timeout=10)
    if execution.status_code != 200 or execution.json().get("status") != "healthy":
        return f"the execution API answered {execution.status_code}"
    return None


def _heartbeat_since(config: DemoConfig, component: str, since: dt.datetime) -> str | None:
    """None once ``component`` is healthy with a heartbeat from after it was started (a previous
    session's heartbeat can still look recent on a restart)."""
    info = _health(config).get(component) or {}
    beat = next((value for key, value in info.items() if key.startswith("latest_") and value), None)
    if info.get("status") != "healthy" or beat is None:
        return f"{component} {info.get('status') or 'not started'}"
    if _instant(beat) < since:
        return f"{component}: no heartbeat since it started"
    return None


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@functools.cache
def _catalog(include: Path):
    """The bundled dataset files, read once per demo (the start-up waits, the banner and the
    watcher all ask; each read parses every file)."""
    from opendata.spec.loader import load_catalog

    return load_catalog(include)


def _expected_dags(config: DemoConfig) -> set[str]:
    return {loaded.spec.id for loaded in _catalog(config.include_dir).datasets}


class AirflowApi:
    """Airflow's REST API as the demo's watcher (the CDO's Airflow user), signed in on first use
    and again when the token is refused."""

    def __init__(self, config: DemoConfig):
        self.config = config
        self.session = requests.Session()

    def get(self, path: str, **params) -> requests.Response:
        if "Authorization" not in self.session.headers:
            self._sign_in()
        answer = self.session.get(f"{self.config.airflow_url}/api/v2/{path}", params=params, timeout=10)
        if answer.status_code == 401:
            self._sign_in()
            answer = self.session.get(f"{self.config.airflow_url}/api/v2/{path}", params=params, timeout=10)
        return answer

    def _sign_in(self) -> None:
        answer = requests.post(f"{self.config.airflow_url}/auth/token", timeout=10,
                               json={"username": self.config.watcher, "password": self.config.airflow_password})
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def _dags_parsed(api: AirflowApi, expected: set[str], since: dt.datetime) -> str | None:
    fresh = {dag["dag_id"] for dag in _all_dags(api)
             if dag.get("last_parsed_time") and _instant(dag["last_parsed_time"]) >= since}
    errors = api.get("importErrors", limit=100).json()
    # Only this session's: a previous session's error is replaced when its file is parsed again.
    current = [e for e in errors.get("import_errors", []) if e.get("timestamp") and _instant(e["timestamp"]) >= since]
    if current and expected <= fresh:
        details = "; ".join(f"{e.get('filename')}: {((e.get('stack_trace') or '').strip().splitlines() or [''])[-1]}"
                            for e in current)
        raise DemoError(f"import errors in the DAG folder: {details}")
    if expected <= fresh:
        return None
    return f"not parsed yet: {', '.join(sorted(expected - fresh))}"


def _all_dags(api: AirflowApi) -> list[dict]:
    """Every DAG the API lists, page by page: it caps a page at ``[api] maximum_page_limit``
    (100 by default) whatever ``limit`` asks, so one request never sees a city's worth."""
    dags: list[dict] = []
    while True:
        page = api.get("dags", limit=100, offset=len(dags)).json()
        dags += page.get("dags", [])
        if not page.get("dags") or len(dags) >= page.get("total_entries", 0):
            return dags


def _all_healthy(config: DemoConfig) -> str | None:
    problem = _api_server_answers(config)
    if problem:
        return problem
    health = _health(config)
    unhealthy = [name for name, info in health.items() if isinstance(info, dict) and info.get("status") != "healthy"]
    return f"not healthy: {', '.join(unhealthy)}" if unhealthy else None


class TaskWatcher:
    """After "Ready.": says when a person is asked for something (Step 1, the shrink guard) and
    when a task attempt fails, once each, with where to look."""

    STATES = ("awaiting_input", "failed", "up_for_retry")

    def __init__(self, config: DemoConfig, every: float = 5.0):
        self.config = config
        self.api = AirflowApi(config)
        self.approvers = _step1_approvers(config)
        self.every = every
        self.next_poll = 0.0
        self.seen: set[tuple] = set()

    def poll(self) -> None:
        if time.monotonic() < self.next_poll:
            return
        self.next_poll = time.monotonic() + self.every
        try:
            answer = self.api.get("dags/~/dagRuns/~/taskInstances", state=list(self.STATES), limit=100)
            instances = answer.json().get("task_instances", []) if answer.status_code == 200 else []
        except (requests.RequestException, ValueError):
            return
        for ti in instances:
            key = (ti["dag_id"], ti["dag_run_id"], ti["task_id"], ti.get("map_index"), ti["try_number"], ti["state"])
            if key in self.seen:
                continue
            self.seen.add(key)
            page = (f"{self.config.airflow_url}/dags/{ti['dag_id']}/runs/{ti['dag_run_id']}/tasks/{ti['task_id']}")
            if ti["state"] == "awaiting_input":
                step = "Step 1" if ti["task_id"] == "department_approval" else ti["task_id"]
                who = self.approvers.get(ti["dag_id"]) or []
                signed = f" (sign in as {' or '.join(who)})" if who else ""
                print(f"Waiting for a person: {step} of {ti['dag_id']}{signed}: {page}/required_actions", flush=True)
            else:
                print(f"Task {ti['dag_id']}.{ti['task_id']} attempt {ti['try_number']} failed ({ti['state']}): "
                      f"see its log at {page}", flush=True)


def _step1_approvers(config: DemoConfig) -> dict[str, list[str]]:
    """Dataset id -> the Airflow users who may answer its Step 1 (the department's leadership)."""
    catalog = _catalog(config.include_dir)
    governance = catalog.governance
    if governance is None:
        return {}
    approvers = {}
    for loaded in catalog.datasets:
        department = governance.departments.get(loaded.spec.department)
        approvers[loaded.spec.id] = [user["id"] for user in governance.hitl_users(department.leadership)] \
            if department else []
    return approvers


def _print_banner(config: DemoConfig, logs: Path, elapsed: float) -> None:
    ids = sorted(_expected_dags(config))
    reviewer_user, reviewer_password = config.reviewer
    where = f"password in {config.reviewer_password_file}, readable by you only"
    if "OPENDATA_REVIEWER_PASSWORD" in os.environ:
        login = (f"user {reviewer_user!r}, password from $OPENDATA_REVIEWER_PASSWORD, "
                 f"also in {config.reviewer_password_file}")
    elif sys.stdout.isatty():
        # Shown on the terminal only, never written to a log file.
        login = f"user {reviewer_user!r}, password for this session: {reviewer_password}  ({where})"
    else:
        login = f"user {reviewer_user!r}, {where}"
    approvers = _step1_approvers(config)
    signers = ", ".join(f"{users[0]} ({dag_id})" for dag_id, users in sorted(approvers.items()) if users)
    people_where = f"password in {config.airflow_passwords_file}"
    if "OPENDATA_AIRFLOW_PASSWORD" in os.environ:
        people_login = f"password from $OPENDATA_AIRFLOW_PASSWORD, also in {config.airflow_passwords_file}"
    elif sys.stdout.isatty():
        people_login = f"password for this session: {config.airflow_password}  ({people_where})"
    else:
        people_login = people_where
    lines = [
        "",
        f"Ready. ({elapsed:.0f} s; tasks can run: the first runs start now)",
        f"  Airflow UI:        {config.airflow_url}   (dataset DAGs: {', '.join(ids)})",
        f"    sign in as a person of include/governance.yaml by key, e.g. {config.watcher} (CDO) or, for "
        f"Step 1, {signers}; {people_login}",
        f"  Portal emulator:   {config.portal_url}",
        f"  CDO review page:   {config.portal_url}/review   ({login})",
        f"  Notifications:     {config.local / 'mail'}   (every e-mail the pipeline sends, as .eml files)",
        f"  Logs:              {logs}",
        f"  Other terminals:   every `opendata` command uses this demo (settings in {config.env_file})",
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)


def main(check_only: bool = False) -> int:
    root = settings.include_dir().parent
    return run(root, check_only=check_only)
