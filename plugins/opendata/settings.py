"""Every deployment setting of the pipeline, read from the environment with embedded defaults.

One place, typed and documented: a module that needs a setting calls a function here, so a
reader finds every ``OPENDATA_*`` variable (and its default) in this file. Nothing here is
secret: secrets live in Airflow connections or the environment. (The demo launcher,
``demo.py`` and ``deployment.py``, also reads its own start-up variables: the passwords it
generates, the folder of its local stack, and the environment it hands its processes.)

This module imports nothing of the project: every other package may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

# plugins/opendata/settings.py -> the repository (or /opt/airflow in the container image).
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

# A dataset file is a few kilobytes (the samples are 4-6 KiB); 1 MiB leaves room for a data
# dictionary of thousands of columns while keeping one file's parse well under a second.
DEFAULT_MAX_DATASET_FILE_BYTES = 1024 * 1024


def include_dir() -> Path:
    """The folder holding datasets/, governance.yaml and sql/."""
    return Path(os.environ.get("OPENDATA_INCLUDE_DIR", _PROJECT_ROOT / "include"))


def datasets_dir() -> Path:
    return include_dir() / "datasets"


#: The people-and-roles file's name inside an include folder.
GOVERNANCE_FILE_NAME = "governance.yaml"


def governance_file(include: Path | None = None) -> Path:
    """``governance.yaml`` of ``include`` (by default the configured include folder)."""
    return (include if include is not None else include_dir()) / GOVERNANCE_FILE_NAME


def state_dir() -> Path:
    """This machine's own state: the parse and inventory caches, and the default SQLite registry
    of a single-machine install (everything tasks share is in the store, :func:`storage_url`)."""
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "opendata"
    return Path(os.environ.get("OPENDATA_STATE_DIR", default))


def storage_url() -> str:
    """``OPENDATA_STORAGE_URL``: the root of everything a later task, a later run, another machine,
    the Open Data view or an e-mail reads (staged extracts, fingerprints, checklist reports, the
    archive, data.json, quarterly reports). A URL Airflow's object storage knows (``s3://bucket/
    prefix``, ``gs://...``, ``abfs://...``) or a local folder; default ``file://<state folder>``."""
    return os.environ.get("OPENDATA_STORAGE_URL", "").strip() or f"file://{state_dir().absolute()}"


def storage_conn_id() -> str | None:
    """``OPENDATA_STORAGE_CONN_ID``: the Airflow connection of the store (for ``s3://``, an ``aws``
    connection; its extra's ``endpoint_url`` names an S3-compatible server); None: the
    provider's default credential chain."""
    return os.environ.get("OPENDATA_STORAGE_CONN_ID", "").strip() or None


def scratch_dir() -> Path:
    """``OPENDATA_SCRATCH_DIR``: this worker's folder for the files a task downloads from (or
    prepares for) a remote store; each task's own sub-folder is removed when it ends."""
    import tempfile

    configured = os.environ.get("OPENDATA_SCRATCH_DIR", "").strip()
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "opendata-scratch"


def _in_store(variable: str, *parts: str) -> str:
    """The override ``variable`` (a folder, a file or a URL), else ``parts`` under the store's root."""
    return os.environ.get(variable, "").strip() or "/".join([storage_url().rstrip("/"), *parts])


def staging_url() -> str:
    """Where runs stage their extracts and checklist reports (``OPENDATA_STAGING_DIR``: a folder
    or URL; default ``<store>/staging``)."""
    return _in_store("OPENDATA_STAGING_DIR", "staging")


def archive_url() -> str:
    """Where each published version's extract is archived (``OPENDATA_ARCHIVE_DIR``: a folder or
    URL; default ``<store>/archive``)."""
    return _in_store("OPENDATA_ARCHIVE_DIR", "archive")


def fingerprints_url() -> str:
    """Where the fingerprint of each dataset's last confirmed load is kept (``<store>/fingerprints``)."""
    return f"{storage_url().rstrip('/')}/fingerprints"


#: The registry's database URL (SQLAlchemy form); unset: the Airflow connection
#: ``opendata_registry``, then a SQLite file in the state folder (``registry/location.py``).
REGISTRY_URL_VAR = "OPENDATA_REGISTRY_URL"


def registry_url() -> str | None:
    """The registry's database URL when the deployment sets ``OPENDATA_REGISTRY_URL``."""
    return os.environ.get(REGISTRY_URL_VAR) or None


#: PostgreSQL sources are read through COPY into Arrow unless this is "0" (``sources/sql.py``).
SQL_COPY_VAR = "OPENDATA_SQL_COPY"


def sql_copy_enabled() -> bool:
    """PostgreSQL sources are read with COPY (``OPENDATA_SQL_COPY=0``: the general path)."""
    return os.environ.get(SQL_COPY_VAR, "1").strip() != "0"


#: Connection ids (comma-separated) whose accounts can only read, for databases where the
#: pipeline cannot make a session read-only itself. Set by the deployment, not by dataset
#: files: the people who write dataset files do not manage the accounts.
READ_ONLY_CONNECTIONS_VAR = "OPENDATA_READ_ONLY_CONNECTIONS"


def read_only_connections() -> frozenset[str]:
    """The connection ids the deployment declares read-only (``OPENDATA_READ_ONLY_CONNECTIONS``)."""
    listed = os.environ.get(READ_ONLY_CONNECTIONS_VAR, "")
    return frozenset(name.strip() for name in listed.split(",") if name.strip())


def review_poll_seconds() -> float | None:
    """``OPENDATA_REVIEW_POLL_SECONDS``: how often every approval sensor asks the portal,
    overriding each dataset file's interval (the local demo polls every few seconds); None:
    each file's own interval."""
    return _positive_float(os.environ.get("OPENDATA_REVIEW_POLL_SECONDS", ""))


def freshness_schedule() -> str | None:
    """``OPENDATA_FRESHNESS_SCHEDULE``: the freshness monitor's cron or preset (None: hourly)."""
    return os.environ.get("OPENDATA_FRESHNESS_SCHEDULE") or None


def freshness_timezone() -> str | None:
    """``OPENDATA_FRESHNESS_TIMEZONE``: the city's time zone for calendar days (None: Los Angeles)."""
    return os.environ.get("OPENDATA_FRESHNESS_TIMEZONE") or None


def freshness_number(name: str) -> float | None:
    """One of the monitor's numeric knobs, None when unset (the monitor's default applies):
    ``OPENDATA_FRESHNESS_REALERT_HOURS``, ``OPENDATA_COMMENT_SWEEP_RUNS``,
    ``OPENDATA_COMMENT_READS_MAX``, ``OPENDATA_COMMENT_ANSWER_HOURS`` (see the README)."""
    if name not in FRESHNESS_NUMBERS:
        raise KeyError(f"{name} is not a setting of the freshness monitor")
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else None


FRESHNESS_NUMBERS = ("OPENDATA_FRESHNESS_REALERT_HOURS", "OPENDATA_COMMENT_SWEEP_RUNS",
                     "OPENDATA_COMMENT_READS_MAX", "OPENDATA_COMMENT_ANSWER_HOURS")


def airflow_base_url() -> str | None:
    """Airflow's ``[api] base_url`` without its trailing ``/`` (links to the UI in e-mails, digests
    and the Open Data view); None when it is unset or outside Airflow (then no link is built)."""
    try:
        # The Task SDK's configuration in a task, the core's in the API server (as tasks read it).
        from airflow.providers.common.compat.sdk import conf

        base = conf.get("api", "base_url", fallback=None)
    except Exception:  # noqa: BLE001 - outside Airflow (lint, benches): no links
        return None
    stripped = str(base or "").rstrip("/")
    return stripped or None


def city_name() -> str:
    """``OPENDATA_CITY_NAME``: the city that publishes (data.json's publisher, report titles)."""
    return os.environ.get("OPENDATA_CITY_NAME", "").strip() or "City of Los Angeles"


def portal_conn_id() -> str:
    """``OPENDATA_PORTAL_CONN_ID``: the Socrata connection the Open Data view builds portal links
    from (default ``socrata_default``, the one the dataset DAGs use)."""
    return os.environ.get("OPENDATA_PORTAL_CONN_ID", "").strip() or "socrata_default"


def data_json_url() -> str:
    """Where the catalog DAG writes the published inventory's DCAT-US ``data.json``
    (``OPENDATA_DATA_JSON_PATH``: a file or URL; default ``<store>/catalog/data.json``; the Open
    Data view serves it at /opendata/data.json)."""
    return _in_store("OPENDATA_DATA_JSON_PATH", "catalog", "data.json")


def catalog_url() -> str | None:
    """``OPENDATA_CATALOG_URL``: the public address of ``data.json`` (its ``@id``); None: the
    portal's own ``/data.json``."""
    return os.environ.get("OPENDATA_CATALOG_URL", "").strip() or None


def reports_url() -> str:
    """Where the quarterly working-group reports are kept (``OPENDATA_REPORTS_DIR``: a folder or
    URL; default ``<store>/reports``)."""
    return _in_store("OPENDATA_REPORTS_DIR", "reports")


def quarterly_report_schedule() -> str:
    """``OPENDATA_QUARTERLY_SCHEDULE``: cron of the quarterly report, in the city's time zone
    (default: 7 am on the first day of each quarter, reporting the quarter that ended)."""
    return os.environ.get("OPENDATA_QUARTERLY_SCHEDULE", "").strip() or "0 7 1 1,4,7,10 *"


def data_roots() -> list[Path]:
    """Folders outside the include folder that dataset files may read source files from.

    ``OPENDATA_DATA_ROOTS``: absolute paths separated by ``os.pathsep`` (":"), e.g.
    ``/srv/exports:/mnt/department-shares``. Entries that are not absolute, or that name the
    file system root, are ignored (and reported by ``opendata lint``): a root of "/" would
    let any file on a worker be published.
    """
    return [Path(entry) for entry in _data_root_entries() if _data_root_problem(entry) is None]


def settings_problems() -> list[str]:
    """Deployment settings that were ignored, in words an operator can act on."""
    problems = [f"OPENDATA_DATA_ROOTS: {entry!r} ignored: {problem}" for entry in _data_root_entries()
                if (problem := _data_root_problem(entry)) is not None]
    raw = os.environ.get("OPENDATA_MAX_DATASET_FILE_BYTES")
    if raw is not None and _positive_int(raw) is None:
        problems.append(f"OPENDATA_MAX_DATASET_FILE_BYTES: {raw!r} ignored: give a positive number of bytes; "
                        f"using {DEFAULT_MAX_DATASET_FILE_BYTES:,}")
    raw = os.environ.get("OPENDATA_PARSE_BUDGET_SECONDS")
    if raw is not None and _positive_float(raw) is None:
        problems.append(f"OPENDATA_PARSE_BUDGET_SECONDS: {raw!r} ignored: give a positive number of seconds")
    raw = os.environ.get(STAGE_CACHE_SECONDS_VAR)
    if raw is not None and raw.strip() != "0" and _positive_float(raw) is None:
        problems.append(f"{STAGE_CACHE_SECONDS_VAR}: {raw!r} ignored: give a number of seconds (0: no cache); "
                        f"using {DEFAULT_STAGE_CACHE_SECONDS:.0f}")
    return problems


def http_source_hosts() -> list[str]:
    """Hosts a dataset file may fetch from with an absolute ``url`` and no ``conn_id``
    (``OPENDATA_HTTP_SOURCE_HOSTS``, comma-separated, e.g. ``data.lacity.org,api.example.gov``;
    ``host:port`` limits a host to one port). None by default: use an Airflow HTTP connection."""
    return [h.strip() for h in os.environ.get("OPENDATA_HTTP_SOURCE_HOSTS", "").split(",") if h.strip()]


def max_dataset_file_bytes() -> int:
    """The largest dataset (or governance) file accepted (``OPENDATA_MAX_DATASET_FILE_BYTES``)."""
    return _positive_int(os.environ.get("OPENDATA_MAX_DATASET_FILE_BYTES", "")) or DEFAULT_MAX_DATASET_FILE_BYTES


def parse_budget_seconds() -> float:
    """How long one DAG file's import may take, counted from its start: ``OPENDATA_PARSE_BUDGET_SECONDS``,
    by default a third of Airflow's ``dagbag_import_timeout`` (10 s of 30 s). Parsing new or
    changed dataset files stops at ``PARSE_SHARE`` of it (``dag_factory.py``; the rest
    builds the DAGs), after which previous results are used or new files left for the next
    parse. Unchanged files come from the parse cache and do not count against it."""
    configured = _positive_float(os.environ.get("OPENDATA_PARSE_BUDGET_SECONDS", ""))
    if configured is not None:
        return configured
    try:
        from airflow.configuration import conf

        timeout = conf.getfloat("core", "dagbag_import_timeout")
    except Exception:  # noqa: BLE001 - outside Airflow (lint, tests): Airflow's default
        timeout = 30.0
    return timeout / 3 if timeout > 0 else 10.0


def parse_cache_enabled() -> bool:
    """DAG parsing keeps each dataset file's validated result under the state folder, so an
    unchanged file is not parsed again (``OPENDATA_PARSE_CACHE=0`` turns it off)."""
    return os.environ.get("OPENDATA_PARSE_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}


#: How long (seconds) a machine's copy of the registry's stages and dataset-file record serves DAG
#: parsing before the registry is asked again (``registry/stage_snapshot.py``).
STAGE_CACHE_SECONDS_VAR = "OPENDATA_STAGE_CACHE_SECONDS"
DEFAULT_STAGE_CACHE_SECONDS = 30.0


def stage_cache_seconds() -> float:
    """``OPENDATA_STAGE_CACHE_SECONDS`` (default 30): DAG parses within this long of the last read
    of the registry take the stages (the ``stage:`` tags) and the record of which file holds each
    dataset id from the machine's cache file, with no database round trip; a stage change shows on
    another machine's DAG list within about this long. 0: ask the registry at every read."""
    raw = os.environ.get(STAGE_CACHE_SECONDS_VAR, "").strip()
    if raw == "0":
        return 0.0
    return _positive_float(raw) or DEFAULT_STAGE_CACHE_SECONDS


#: The Airflow pool every task that writes to the Socrata portal takes a slot of (fixed name:
#: ``opendata pools`` creates it, the DAG factory names it).
SOCRATA_WRITE_POOL = "socrata_writes"
SOCRATA_WRITE_SLOTS_VAR = "OPENDATA_SOCRATA_WRITE_SLOTS"
DEFAULT_SOCRATA_WRITE_SLOTS = 4


def socrata_write_slots() -> int:
    """``OPENDATA_SOCRATA_WRITE_SLOTS``: how many portal-writing tasks may run at once across the
    deployment (the size of the ``socrata_writes`` pool; default 4). Socrata throttles per
    account, so this bounds the account's concurrent writers, whatever the number of workers.
    A value that is not a positive whole number raises ValueError naming the variable (the pool
    is sized on purpose, never from a typo)."""
    raw = os.environ.get(SOCRATA_WRITE_SLOTS_VAR, "")
    if not raw.strip():
        return DEFAULT_SOCRATA_WRITE_SLOTS
    value = _positive_int(raw)
    if value is None:
        raise ValueError(f"{SOCRATA_WRITE_SLOTS_VAR}: {raw!r} is not a positive whole number of pool slots "
                         f"(default {DEFAULT_SOCRATA_WRITE_SLOTS})")
    return value


def source_queue() -> str | None:
    """``OPENDATA_SOURCE_QUEUE``: the Celery queue of the task that reads the source system
    (``extract``), e.g. workers inside the city's network; None (unset or empty): Airflow's
    default queue."""
    return os.environ.get("OPENDATA_SOURCE_QUEUE", "").strip() or None


def portal_queue() -> str | None:
    """``OPENDATA_PORTAL_QUEUE``: the Celery queue of the tasks that write to the portal (the
    tasks of the ``socrata_writes`` pool), e.g. workers allowed out to the portal; None (unset or
    empty): Airflow's default queue."""
    return os.environ.get("OPENDATA_PORTAL_QUEUE", "").strip() or None


def _data_root_entries() -> list[str]:
    return [entry for entry in os.environ.get("OPENDATA_DATA_ROOTS", "").split(os.pathsep) if entry.strip()]


def _data_root_problem(entry: str) -> str | None:
    if "\x00" in entry or "$" in entry or entry.startswith("~"):
        return "write the folder itself (nothing is expanded)"
    path = Path(entry)
    if not path.is_absolute():
        return "a data root must be an absolute path"
    if Path(os.path.realpath(path)) == Path(path.anchor):
        return "the file system root would let dataset files publish any file on a worker"
    return None


def _positive_int(raw: str) -> int | None:
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _positive_float(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value > 0 and value != float("inf") else None
