"""Where the project finds its files, from the environment with embedded defaults.

Nothing here is secret: secrets live in Airflow connections or the environment.
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


def governance_file() -> Path:
    return include_dir() / "governance.yaml"


def state_dir() -> Path:
    """Local working state: staged extracts, reports, the default registry database."""
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "opendata"
    return Path(os.environ.get("OPENDATA_STATE_DIR", default))


def staging_dir() -> Path:
    return Path(os.environ.get("OPENDATA_STAGING_DIR", state_dir() / "staging"))


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
    changed dataset files stops at ``PARSE_SHARE`` of it (``lifecycle/factory.py``; the rest
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


def resolve_include_path(path: str) -> Path:
    """A source file named in a dataset file, confined to the include folder or a data root.

    Relative paths are read from the include folder. Nothing is expanded (no environment
    variables, no ``~``): a path is the file's own text. Raises ``UnsafePath`` otherwise.
    """
    from opendata.spec.paths import Confinement

    return Confinement(include_dir(), data_roots()).source_path(path)


def resolve_query_file(name: str) -> Path:
    """A query file named in a dataset file, confined to include/sql (raises ``UnsafePath``)."""
    from opendata.spec.paths import Confinement

    return Confinement(include_dir()).query_file(name)


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
