"""Which deployment an ``opendata`` command runs against, and what is missing when there is none.

``opendata demo`` writes the environment its processes share (Airflow home and metadata
database, the state folder, the registry, the connections with the session's passwords) to
``demo.env`` in the demo folder (``.local/`` of the project, or ``$OPENDATA_DEMO_DIR``), readable
only by the user. Every other ``opendata`` command (and ``python -m opendata.freshness``) reads it
when the environment names no deployment of its own, so a second terminal works against the
running demo with nothing to export. ``OPENDATA_ENV_FILE=PATH`` reads a given file whatever the
environment says. Variables already in the environment always win over the file.

Outside a configured deployment the commands that read the deployment's state refuse with what
is missing, instead of answering from an empty default (a registry created on the spot in
``~/airflow/opendata`` would say "0 public datasets").
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path
from typing import TextIO

ENV_FILE_VAR = "OPENDATA_ENV_FILE"
DEMO_DIR_VAR = "OPENDATA_DEMO_DIR"
ENV_FILE_NAME = "demo.env"
REVIEWER_PASSWORD_FILE = "reviewer-password"
# Airflow sign-in of the demo's people ({"user": "password"}, Airflow's simple auth manager format).
AIRFLOW_PASSWORDS_FILE = "airflow-passwords.json"
# Any of these in the environment names a deployment: the demo's file is then not read.
DEPLOYMENT_VARS = ("AIRFLOW_HOME", "OPENDATA_STATE_DIR", "OPENDATA_REGISTRY_URL")


class NotConfigured(RuntimeError):
    """A command needs a deployment setting that is not there; the message says which and how."""


def demo_dir(root: Path | None = None) -> Path:
    """Everything the demo writes: Airflow home, portal state, logs, its settings (git-ignored)."""
    configured = os.environ.get(DEMO_DIR_VAR)
    if configured:
        return Path(configured)
    return (root or Path(__file__).resolve().parents[2]) / ".local"


def demo_env_file(root: Path | None = None) -> Path:
    return demo_dir(root) / ENV_FILE_NAME


# --- writing ---------------------------------------------------------------------------------------

def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by the user only (0600), atomically: the
    file never exists with wider permissions, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.unlink()
    except FileNotFoundError:
        pass
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)   # whatever the umask said
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_env_file(path: Path, values: dict[str, str], header: str) -> None:
    """Shell syntax (``set -a; . FILE`` works too), one ``NAME='value'`` a line."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"{name}={shlex.quote(value)}" for name, value in sorted(values.items())]
    write_private_file(path, "\n".join(lines) + "\n")


# --- reading ---------------------------------------------------------------------------------------

def read_env_file(path: Path) -> dict[str, str]:
    """The ``NAME=value`` lines of a file written by :func:`write_env_file` (comments ignored)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, raw = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        if not sep or not name.isidentifier():
            raise NotConfigured(f"{path}:{number}: expected NAME=value")
        try:
            words = shlex.split(raw, comments=False, posix=True)
        except ValueError as exc:
            raise NotConfigured(f"{path}:{number}: {name}: {exc}") from None
        values[name] = " ".join(words)
    return values


def _unsafe(path: Path) -> str | None:
    """Why a settings file must not be read: another user could have written it (it sets
    Airflow's configuration and connections, so it decides what code and credentials run)."""
    info = path.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return "it belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "other users can write it"
    return None


def load_demo_settings(stream: TextIO | None = None) -> Path | None:
    """Read the demo's settings into ``os.environ`` (existing variables win); returns the file
    read, None when there is nothing to read. Says so on ``stream`` (stderr) when it set any."""
    stream = stream if stream is not None else sys.stderr
    explicit = os.environ.get(ENV_FILE_VAR)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise NotConfigured(f"{ENV_FILE_VAR} names {path}, which is not a file")
    else:
        path = demo_env_file()
        if not path.is_file() or any(os.environ.get(name) for name in DEPLOYMENT_VARS):
            return None
    problem = _unsafe(path)
    if problem is not None:
        raise NotConfigured(f"not reading the settings in {path}: {problem} (the demo writes it with mode 0600; "
                            f"delete it and start the demo again)")
    values = read_env_file(path)
    added = sorted(name for name in values if name not in os.environ)
    os.environ.update({name: values[name] for name in added})
    if added:
        print(f"opendata: using the demo's settings from {path} (Airflow home, state folder, registry, "
              f"connections; {ENV_FILE_VAR}=PATH reads another file)", file=stream)
    return path


def _not_read_note() -> str:
    """Why the demo's settings were not used, when they exist: appended to 'what is missing'."""
    path = demo_env_file()
    if os.environ.get(ENV_FILE_VAR) or not path.is_file():
        return (f"\n  - for the local demo: start it in this project (make run); it writes its settings to {path}, "
                f"which every opendata command then reads")
    named = [name for name in DEPLOYMENT_VARS if os.environ.get(name)]
    return (f"\n  - the demo's settings in {path} were not read because {', '.join(named)} "
            f"{'is' if len(named) == 1 else 'are'} set in this environment: unset "
            f"{'it' if len(named) == 1 else 'them'}, or set {ENV_FILE_VAR}={path}")


# --- what a command needs --------------------------------------------------------------------------

def require_registry() -> None:
    """Refuse to answer from an empty default: the registry must be configured, or its default
    file must exist (a deployment that ran creates it)."""
    from opendata.registry.location import CONN_ID, ENV_VAR, locate

    location = locate()
    if location.default_file is None or location.default_file.exists():
        return
    raise NotConfigured(
        f"no publication registry here: {ENV_VAR} is not set, the Airflow connection {CONN_ID!r} is not "
        f"defined, and the default file {location.default_file} does not exist (the state folder is "
        f"OPENDATA_STATE_DIR, else $AIRFLOW_HOME/opendata, else ~/airflow/opendata)."
        f"\n  - for a deployment: set {ENV_VAR} (or the connection {CONN_ID}) and OPENDATA_STATE_DIR as the "
        f"deployment's Airflow processes have them" + _not_read_note())


def require_connection(conn_id: str, what: str) -> None:
    """The Airflow connection must be defined where this command runs."""
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - Airflow is part of the runtime
        return
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        env = f"AIRFLOW_CONN_{conn_id.upper()}"
        raise NotConfigured(
            f"the Airflow connection {conn_id!r} ({what}) is not defined here."
            f"\n  - for a deployment: define it as the deployment does (UI, secrets backend, or {env}); "
            f"see README.md, 'Configure real connections'" + _not_read_note()) from None


def require_include_dir(include: Path) -> None:
    if not include.is_dir():
        raise NotConfigured(
            f"no include folder at {include} (the dataset files and governance.yaml): pass --include DIR or set "
            f"OPENDATA_INCLUDE_DIR")
