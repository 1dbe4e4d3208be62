"""Which deployment a command runs against: the demo's settings file, and refusals outside one."""

from __future__ import annotations

import io
import os
import stat

import pytest

from opendata import deployment
from opendata.deployment import (
    NotConfigured,
    load_demo_settings,
    read_env_file,
    require_registry,
    write_env_file,
    write_private_file,
)

HOSTILE = {"PLAIN": "value", "SPACES": "a b  c", "QUOTES": "it's \"quoted\"", "SHELL": "$(touch /tmp/x); `id` $HOME",
           "URL": "postgresql://user:p%40ss@host/db?x=1&y=2", "EMPTY": ""}


@pytest.fixture
def demo_dir(tmp_path, monkeypatch):
    """A terminal with no deployment of its own, and a demo folder."""
    for name in (*deployment.DEPLOYMENT_VARS, deployment.ENV_FILE_VAR, "OPENDATA_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(deployment.DEMO_DIR_VAR, str(tmp_path / "local"))
    # load_demo_settings writes os.environ itself: put back whatever it added.
    saved = dict(os.environ)
    yield tmp_path / "local"
    os.environ.clear()
    os.environ.update(saved)


def test_private_files_are_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        write_private_file(tmp_path / "secret", "x\n")
        write_private_file(tmp_path / "secret", "y\n")   # replaced, still private
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    assert (tmp_path / "secret").read_text() == "y\n"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]   # no temporary file left


def test_the_settings_file_round_trips_any_value_as_shell_syntax(tmp_path):
    path = tmp_path / "demo.env"
    write_env_file(path, HOSTILE, header="two\nlines")
    assert read_env_file(path) == HOSTILE
    # The shell reads the same values (set -a; . FILE) and runs nothing from them.
    import subprocess

    shown = subprocess.run(["bash", "-c", f"set -a; . {path}; printf '%s\\n' \"$SHELL\" \"$QUOTES\""],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, check=True).stdout
    assert shown.splitlines() == [HOSTILE["SHELL"], HOSTILE["QUOTES"]]


def test_a_line_that_is_not_name_value_is_named(tmp_path):
    path = tmp_path / "demo.env"
    path.write_text("# comment\nGOOD=1\nnot a setting\n")
    with pytest.raises(NotConfigured, match=r"demo.env:3: expected NAME=value"):
        read_env_file(path)


def test_the_demo_settings_are_read_when_nothing_else_is_configured(demo_dir, monkeypatch):
    write_env_file(demo_dir / "demo.env", {"OPENDATA_STATE_DIR": "/demo/state", "AIRFLOW_HOME": "/demo/airflow",
                                          "OPENDATA_SOMETHING": "from-file"}, header="h")
    monkeypatch.setenv("OPENDATA_SOMETHING", "from-environment")
    said = io.StringIO()
    assert load_demo_settings(said) == demo_dir / "demo.env"
    assert os.environ["OPENDATA_STATE_DIR"] == "/demo/state"
    assert os.environ["OPENDATA_SOMETHING"] == "from-environment"   # the environment wins
    assert "using the demo's settings from" in said.getvalue()
    assert "/demo/state" not in said.getvalue()   # names the file, never its values


def test_a_deployment_of_its_own_is_never_overridden_by_the_demo(demo_dir, monkeypatch):
    write_env_file(demo_dir / "demo.env", {"OPENDATA_STATE_DIR": "/demo/state"}, header="h")
    monkeypatch.setenv("AIRFLOW_HOME", "/srv/airflow")
    assert load_demo_settings(io.StringIO()) is None
    assert "OPENDATA_STATE_DIR" not in os.environ


def test_an_explicit_file_is_read_whatever_the_environment(demo_dir, tmp_path, monkeypatch):
    write_env_file(tmp_path / "other.env", {"OPENDATA_STATE_DIR": "/other/state"}, header="h")
    monkeypatch.setenv("AIRFLOW_HOME", "/srv/airflow")
    monkeypatch.setenv(deployment.ENV_FILE_VAR, str(tmp_path / "other.env"))
    assert load_demo_settings(io.StringIO()) == tmp_path / "other.env"
    assert os.environ["OPENDATA_STATE_DIR"] == "/other/state"
    monkeypatch.setenv(deployment.ENV_FILE_VAR, str(tmp_path / "missing.env"))
    with pytest.raises(NotConfigured, match="missing.env, which is not a file"):
        load_demo_settings(io.StringIO())


def test_a_settings_file_others_can_write_is_refused(demo_dir):
    write_env_file(demo_dir / "demo.env", {"AIRFLOW_CONN_SOCRATA_DEFAULT": "http://evil"}, header="h")
    os.chmod(demo_dir / "demo.env", 0o666)
    with pytest.raises(NotConfigured, match="other users can write it"):
        load_demo_settings(io.StringIO())
    assert "AIRFLOW_CONN_SOCRATA_DEFAULT" not in os.environ


def test_no_registry_anywhere_is_refused_with_what_to_set(demo_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "empty-state"))
    with pytest.raises(NotConfigured) as refused:
        require_registry()
    message = str(refused.value)
    assert "OPENDATA_REGISTRY_URL is not set" in message and "empty-state/registry.sqlite does not exist" in message
    # The demo's file was not read because this terminal names a state folder: say so.
    write_env_file(demo_dir / "demo.env", {}, header="h")
    with pytest.raises(NotConfigured, match="were not read because OPENDATA_STATE_DIR is set"):
        require_registry()


def test_an_existing_default_registry_is_enough(demo_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "registry.sqlite").write_bytes(b"")
    require_registry()
