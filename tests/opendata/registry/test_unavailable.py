"""A registry that cannot be reached fails with one clean message: which dataset, that it is the
publication registry, where it is configured, the URL with its password masked, the driver's
reason; never the password, not even in the exception chain a task log prints."""

from __future__ import annotations

import inspect
import secrets
import socket
import traceback
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from opendata.freshness.alert_store import AlertStore
from opendata.registry import Registry, RegistryUnavailable
from opendata.registry.errors import unavailable
from opendata.registry.location import RegistryLocation, masked_url, scrub
from tests.conftest import PG_HOST, PG_PORT, PG_USER, create_pg_database, drop_pg_database

DATASET = "building-permits"
PASSWORD = "s3cret-P@ss/word"
PASSWORD_IN_URL = "s3cret-P%40ss%2Fword"


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_configured_registry(monkeypatch):
    monkeypatch.delenv("OPENDATA_REGISTRY_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_OPENDATA_REGISTRY", raising=False)


def run_plan(dataset_id: str = DATASET):
    from opendata.operators.plan import PlanRunOperator

    plan = PlanRunOperator(task_id="plan", dataset_id=dataset_id)
    return plan.execute({"dag_run": SimpleNamespace(conf={}), "run_id": "manual__2026-11-01"})


def assert_clean(exc: BaseException, *must_say: str) -> str:
    """The message says what it must, on one line, and nothing the exception carries (message,
    repr, chain, printed traceback) holds the password."""
    assert isinstance(exc, RegistryUnavailable)
    message = str(exc)
    for words in must_say:
        assert words in message, f"{words!r} missing from: {message}"
    assert "\n" not in message  # the run log's error column and the failure e-mail keep line one
    printed = "".join(traceback.format_exception(exc)) + repr(exc)
    for secret in (PASSWORD, PASSWORD_IN_URL, "s3cret"):
        assert secret not in printed
    # The driver's exception is neither the cause nor the context: a log prints no second trace.
    assert exc.__cause__ is None and exc.__context__ is None
    assert "During handling" not in printed and "direct cause" not in printed
    return message


def test_plan_names_the_dataset_and_the_env_variable_when_postgresql_is_down(monkeypatch, closed_port):
    monkeypatch.setenv("OPENDATA_REGISTRY_URL",
                       f"postgresql://opendata:{PASSWORD_IN_URL}@127.0.0.1:{closed_port}/registry")
    with pytest.raises(RegistryUnavailable) as caught:
        run_plan()
    message = assert_clean(caught.value, f"{DATASET}: ", "the publication registry", "OPENDATA_REGISTRY_URL",
                           f"postgresql://opendata:***@127.0.0.1:{closed_port}/registry", "refused")
    assert caught.value.dataset_id == DATASET
    assert message.startswith(f"{DATASET}: the publication registry is unavailable")


def test_plan_names_the_airflow_connection_when_that_is_where_the_registry_is_configured(monkeypatch,
                                                                                        closed_port):
    monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_REGISTRY",
                       f"postgresql://opendata:{PASSWORD_IN_URL}@127.0.0.1:{closed_port}/registry")
    with pytest.raises(RegistryUnavailable) as caught:
        run_plan()
    assert_clean(caught.value, DATASET, "the publication registry", "the Airflow connection opendata_registry",
                 f"opendata:***@127.0.0.1:{closed_port}/registry")


def test_a_sqlite_registry_in_a_missing_folder(monkeypatch, tmp_path):
    path = tmp_path / "no-such-folder" / "registry.sqlite"
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"sqlite:///{path}")
    with pytest.raises(RegistryUnavailable) as caught:
        run_plan()
    assert_clean(caught.value, DATASET, "the publication registry", "OPENDATA_REGISTRY_URL", str(path),
                 "unable to open database file", "folder must exist and be writable")
    assert not path.parent.exists()  # a configured location is never created somewhere by accident


def test_the_default_sqlite_file_in_a_state_folder_that_cannot_be_created(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(blocker / "state"))
    with pytest.raises(RegistryUnavailable) as caught:
        run_plan()
    assert_clean(caught.value, DATASET, "the publication registry", "the default SQLite file",
                 str(blocker / "state" / "registry.sqlite"), "OPENDATA_REGISTRY_URL")


def test_a_password_in_the_query_string_is_masked_too(monkeypatch, closed_port):
    monkeypatch.setenv("OPENDATA_REGISTRY_URL",
                       f"postgresql://opendata@127.0.0.1:{closed_port}/registry?password={PASSWORD_IN_URL}")
    with pytest.raises(RegistryUnavailable) as caught:
        Registry.from_settings(dataset_id=DATASET)
    assert_clean(caught.value, "password=***")


def test_an_unparsable_url_is_reported_masked(monkeypatch):
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"postgresql://opendata:{PASSWORD_IN_URL}@db:not-a-port/registry")
    with pytest.raises(RegistryUnavailable) as caught:
        Registry.from_settings(dataset_id=DATASET)
    assert_clean(caught.value, DATASET, "URL cannot be used", "opendata:***@")


@pytest.mark.postgres
def test_each_operation_names_its_dataset_when_the_registry_goes_away(tmp_path):
    name = create_pg_database(f"opendata_gone_{secrets.token_hex(4)}")  # never shared with another run
    # Trust authentication ignores the password, so the URL can carry one to be masked.
    url = f"postgresql+psycopg://{PG_USER}:{PASSWORD_IN_URL}@{PG_HOST}:{PG_PORT}/{name}"
    registry = Registry(url, dataset_id="opened-for")
    try:
        registry.start_run("permits", "r1", kind="publication")
        alerts = AlertStore(registry)
        drop_pg_database(name)  # terminates the registry's connections too

        with pytest.raises(RegistryUnavailable) as caught:
            registry.get_state("permits")
        assert_clean(caught.value, "permits: the publication registry is unavailable", f"{PG_USER}:***@", name)
        with pytest.raises(RegistryUnavailable) as caught:
            registry.update_run("permits", "r1", outcome="failed", error="x")
        assert_clean(caught.value, "permits: ")
        with pytest.raises(RegistryUnavailable) as caught:
            registry.all_states()  # no dataset argument: the one the registry was opened for
        assert_clean(caught.value, "opened-for: ")
        with pytest.raises(RegistryUnavailable) as caught:
            alerts.alert_records()
        assert_clean(caught.value, "the publication registry")
    finally:
        registry.close()
        drop_pg_database(name)


def test_the_failed_run_is_recorded_with_the_clean_message(monkeypatch, closed_port, tmp_path):
    """What the run log's error column (and the failure e-mail) get: the whole message."""
    from opendata.notify import OpenDataNotifier
    from opendata.operators.finish import RunFailureHandler

    monkeypatch.setenv("OPENDATA_REGISTRY_URL",
                       f"postgresql://opendata:{PASSWORD_IN_URL}@127.0.0.1:{closed_port}/registry")
    with pytest.raises(RegistryUnavailable) as caught:
        run_plan()
    # The registry is back when the failure callback runs (a short outage).
    monkeypatch.setenv("OPENDATA_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.sqlite'}")
    mailed = []
    monkeypatch.setattr(OpenDataNotifier, "notify", lambda self, context: mailed.append(str(context["exception"])))
    RunFailureHandler(DATASET).notify({"exception": caught.value, "run_id": "manual__2026-11-01",
                                       "ti": SimpleNamespace(task_id="plan")})
    (run,) = Registry.from_settings().runs(DATASET)
    assert run.outcome == "failed"
    assert run.error == f"plan: {caught.value}"
    assert "OPENDATA_REGISTRY_URL" in run.error and "s3cret" not in run.error
    assert mailed and "s3cret" not in mailed[0]


def test_a_dag_run_with_the_registry_down_logs_and_mails_the_clean_message(tmp_path, monkeypatch, airflow_db,
                                                                          closed_port, capfd, caplog):
    """The real thing: the dataset's DAG run fails at plan; the task log shows one clean error
    (no driver traceback chained to it) and the failure e-mail says the same; no password."""
    import datetime as dt

    from opendata.dag_factory import build_dag
    from opendata.notify import start_mailbox
    from opendata.spec.loader import LoadedDataset, load_catalog
    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("OPENDATA_REGISTRY_URL",
                       f"postgresql://opendata:{PASSWORD_IN_URL}@127.0.0.1:{closed_port}/registry")
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    catalog = load_catalog(REPO_ROOT / "include")
    loaded = catalog.get(DATASET)
    # No retries: the run ends at the first failure instead of waiting for the retry delay.
    spec = loaded.spec.model_copy(update={"dag": loaded.spec.dag.model_copy(update={"retries": 0})})
    with start_mailbox(tmp_path / "mail") as mailbox:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", mailbox.connection())
        run = build_dag(LoadedDataset(spec=spec, path=loaded.path), governance=catalog.governance).test(
            logical_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
        mails = [m.get_body(preferencelist=("plain",)).get_content() for m in mailbox.messages()]
    printed = capfd.readouterr()
    log = printed.out + printed.err + caplog.text
    assert str(run.state) in ("failed", "DagRunState.FAILED")
    expected = f"{DATASET}: the publication registry is unavailable (configured by OPENDATA_REGISTRY_URL as "
    assert f"RegistryUnavailable: {expected}postgresql://opendata:***@127.0.0.1:{closed_port}/registry)" in log
    assert "During handling" not in log and "direct cause" not in log and "psycopg.OperationalError" not in log
    assert len(mails) == 1 and expected in " ".join(mails[0].split())
    for text in (log, mails[0]):
        assert "s3cret" not in text


def test_a_driver_message_quoting_the_password_is_scrubbed():
    url = f"postgresql://opendata:{PASSWORD_IN_URL}@db.internal:5432/registry?sslpassword=key-pw"
    driver = Exception(f"could not connect with password {PASSWORD} (url {url}) and sslpassword key-pw")
    location = RegistryLocation(url, "OPENDATA_REGISTRY_URL")
    failure = unavailable(sa.exc.OperationalError("SELECT 1", {}, driver), location, dataset_id=DATASET)
    message = str(failure)
    assert PASSWORD not in message and PASSWORD_IN_URL not in message and "key-pw" not in message
    assert "SELECT 1" not in message  # the driver's words, not SQLAlchemy's statement dump
    assert "opendata:***@db.internal:5432/registry" in message


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:pw@h:5432/d", "postgresql://u:***@h:5432/d"),
    ("postgresql+psycopg://u@h/d?password=pw&sslmode=require", "postgresql+psycopg://u@h/d?password=***&sslmode=require"),
    ("sqlite:////var/lib/opendata/registry.sqlite", "sqlite:////var/lib/opendata/registry.sqlite"),
    ("postgresql://u:pw@h:port/d", "postgresql://u:***@h:port/d"),  # unparsable: masked by pattern
])
def test_masked_url(url, shown):
    assert masked_url(url) == shown


def test_scrub_removes_every_spelling_of_the_password():
    url = f"postgresql://u:{PASSWORD_IN_URL}@h/d"
    assert scrub(f"a {PASSWORD} b {PASSWORD_IN_URL} c {url}", url) == "a *** b *** c postgresql://u:***@h/d"


@pytest.mark.parametrize("cls", [Registry, AlertStore])
def test_every_operation_is_guarded(cls):
    """A method added later without the guard would fail with the bare driver error again."""
    public = [name for name, member in inspect.getmembers(cls, inspect.isfunction)
              if not name.startswith("_") and name not in ("close",)]
    assert public
    assert [name for name in public if not getattr(getattr(cls, name), "guarded", False)] == []
