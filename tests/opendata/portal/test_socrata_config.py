"""Connection parsing (host/scheme, credentials, extras) and provider registration."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from opendata.portal.config import EXTRA_DEFAULTS, SocrataConnectionConfig, is_loopback, parse_portal_host
from opendata.portal.errors import SocrataConfigError


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("data.lacity.org", None, ("https", "data.lacity.org")),
        ("https://data.lacity.org", None, ("https", "data.lacity.org")),
        ("https://data.lacity.org/", None, ("https", "data.lacity.org")),
        ("HTTPS://Data.LACity.org/some/path?x=1", None, ("https", "data.lacity.org")),
        ("https://data.lacity.org:443", None, ("https", "data.lacity.org")),
        ("https://data.lacity.org:8443", None, ("https", "data.lacity.org:8443")),
        ("http://127.0.0.1:8123", None, ("http", "127.0.0.1:8123")),
        ("127.0.0.1", 8123, ("https", "127.0.0.1:8123")),
        ("http://localhost", 9000, ("http", "localhost:9000")),
        ("  data.lacity.org  ", None, ("https", "data.lacity.org")),
    ],
)
def test_parse_portal_host(host, port, expected):
    assert parse_portal_host(host, port=port) == expected


def test_schema_field_can_hint_the_scheme():
    assert parse_portal_host("127.0.0.1:9000", schema="http") == ("http", "127.0.0.1:9000")
    assert parse_portal_host("data.lacity.org", schema="public") == ("https", "data.lacity.org")


@pytest.mark.parametrize(
    "host", [None, "", "   ", "ftp://data.lacity.org", "https://user:pw@data.lacity.org", "https://"]
)
def test_bad_hosts(host):
    with pytest.raises(SocrataConfigError):
        parse_portal_host(host)


def test_plain_http_only_for_loopback_unless_allowed():
    assert is_loopback("127.0.0.1:80") and is_loopback("localhost:1") and is_loopback("[::1]:5")
    assert not is_loopback("data.lacity.org")
    with pytest.raises(SocrataConfigError, match="unencrypted"):
        SocrataConnectionConfig.from_parts(host="http://data.lacity.org", login="k", password="s")
    cfg = SocrataConnectionConfig.from_parts(host="http://portal.test", extra={"allow_insecure_http": "true"})
    assert cfg.base_url == "http://portal.test"


def test_defaults():
    cfg = SocrataConnectionConfig.from_parts(host="data.lacity.org")
    assert cfg.username is None and cfg.password is None and cfg.app_token is None
    assert cfg.timeout == (10.0, 300.0)
    assert cfg.chunk_size == 10_000 == EXTRA_DEFAULTS["chunk_size"]
    policy = cfg.retry_policy
    assert (policy.max_retries, policy.backoff_base, policy.backoff_max) == (6, 1.0, 60.0)
    assert cfg.host_header == "data.lacity.org"


def test_extras_plain_and_prefixed():
    extra = {
        "app_token": "tok-123456",
        "extra__socrata__connect_timeout": "2.5",
        "read_timeout": 30,
        "max_retries": 2,
        "backoff_base": 0,
        "chunk_size": "500",
        "socrata_host": "data.lacity.org",
        "unknown": "ignored",
        "page_size": "",
    }
    cfg = SocrataConnectionConfig.from_parts(host="http://127.0.0.1:9", login="k", password="s", extra=extra)
    assert cfg.app_token == "tok-123456"
    assert cfg.timeout == (2.5, 30.0)
    assert cfg.max_retries == 2 and cfg.backoff_base == 0
    assert cfg.chunk_size == 500 and cfg.page_size == 10_000
    assert cfg.host_header == "data.lacity.org"


@pytest.mark.parametrize(
    "extra",
    [
        {"connect_timeout": 0},
        {"read_timeout": "abc"},
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"chunk_size": 0},
        {"chunk_size": 10_000_000},
        {"backoff_base": True},
        {"app_token": 123},
    ],
)
def test_invalid_extras(extra):
    with pytest.raises(SocrataConfigError):
        SocrataConnectionConfig.from_parts(host="data.lacity.org", extra=extra)


def test_login_and_password_go_together():
    with pytest.raises(SocrataConfigError):
        SocrataConnectionConfig.from_parts(host="data.lacity.org", login="only-login")
    with pytest.raises(SocrataConfigError):
        SocrataConnectionConfig.from_parts(host="data.lacity.org", password="only-password")


def test_repr_hides_secrets():
    cfg = SocrataConnectionConfig.from_parts(
        host="data.lacity.org", login="key-id", password="pw-SECRET-1", extra={"app_token": "tok-SECRET-2"}
    )
    text = repr(cfg)
    assert "pw-SECRET-1" not in text and "tok-SECRET-2" not in text and "key-id" not in text
    assert sorted(cfg.secrets()) == ["pw-SECRET-1", "tok-SECRET-2"]


def test_from_connection_object_with_raw_extra():
    conn = SimpleNamespace(
        host="https://data.lacity.org",
        port=None,
        login="k",
        password="s3cr3t",
        schema=None,
        extra=json.dumps({"read_timeout": 60}),
    )
    assert SocrataConnectionConfig.from_connection(conn).read_timeout == 60
    conn.extra = "{not json"
    with pytest.raises(SocrataConfigError):
        SocrataConnectionConfig.from_connection(conn)


def test_hook_reads_airflow_connection_from_env(monkeypatch):
    from opendata.portal.hook import SocrataHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SOCRATA_DEFAULT",
        json.dumps(
            {
                "conn_type": "socrata",
                "host": "https://data.lacity.org",
                "login": "key-id",
                "password": "pw-env-SECRET",
                "extra": {"app_token": "tok-env-SECRET", "chunk_size": 2000},
            }
        ),
    )
    hook = SocrataHook()
    assert hook.socrata_conn_id == "socrata_default"
    assert hook.config.domain == "data.lacity.org" and hook.config.scheme == "https"
    assert hook.chunk_size == 2000
    assert SocrataHook(chunk_size=50).chunk_size == 50
    client = hook.get_conn()
    assert client.uri_prefix == "https://" and client.domain == "data.lacity.org"
    assert client.session.headers["X-App-Token"] == "tok-env-SECRET"
    assert client.session.headers["X-Socrata-Host"] == "data.lacity.org"
    assert client.session.auth == ("key-id", "pw-env-SECRET")
    assert "SECRET" not in repr(hook) and "SECRET" not in repr(hook.adapter)
    hook.close()


def test_provider_info_registers_socrata_connection_type():
    import importlib.metadata as md

    import airflow
    from jsonschema import validate

    from opendata.provider_info import get_provider_info

    info = get_provider_info()
    schema_path = f"{airflow.__path__[0]}/provider_info.schema.json"
    with open(schema_path) as fh:
        validate(info, json.load(fh))
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "socrata"
    assert conn_type["hook-class-name"] == "opendata.portal.hook.SocrataHook"
    assert conn_type["conn-fields"]["app_token"]["schema"]["format"] == "password"  # masked in the UI
    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"schema", "port"}
    assert behaviour["placeholders"]["host"].startswith("https://")
    # The entry point named in pyproject resolves to this function, under the right package name.
    eps = [ep for ep in md.entry_points(group="apache_airflow_provider") if ep.value.startswith("opendata.")]
    assert eps and eps[0].load() is get_provider_info
    assert (
        md.distribution("civic-opendata").metadata["Name"].lower().replace("_", "-") == info["package-name"]
    )


def test_providers_manager_knows_the_hook():
    from airflow.providers_manager import ProvidersManager

    from opendata.portal.hook import SocrataHook

    manager = ProvidersManager()
    manager.initialize_providers_hooks()
    assert manager._hook_provider_dict["socrata"].hook_class_name == "opendata.portal.hook.SocrataHook"
    assert manager.field_behaviours["socrata"]["hidden_fields"] == ["schema", "port"]
    assert "extra__socrata__app_token" in manager.connection_form_widgets
    assert SocrataHook.conn_type == "socrata" and SocrataHook.default_conn_name == "socrata_default"
