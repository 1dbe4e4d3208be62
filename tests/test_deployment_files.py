"""The files that deploy the project: compose, image, pins. Docker cannot run here, so these
are checked by reading them the way docker compose and pip would: the compose file against the
Compose Specification's JSON schema (vendored in tests/compose_spec/), then for the topology the
distributed test proves (tests/test_distributed_e2e.py): an object store, two workers, and no
volume shared between services."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker-sources", "airflow-worker-portal", "airflow-init"]
WORKERS = {"airflow-worker-sources": "sources", "airflow-worker-portal": "portal"}
SCHEMA = ROOT / "tests" / "compose_spec" / "compose-spec.json"


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def schema_errors(document: dict) -> list[str]:
    import json

    import jsonschema

    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification():
    # The Compose Specification's own JSON schema (vendored, tests/compose_spec/): the check
    # `docker compose config` makes, without a Docker engine.
    assert schema_errors(compose()) == []


def test_the_compose_validator_rejects_a_mistake():
    broken = compose()
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    broken["volumes"]["object-store-data"] = {"driver": 3}
    errors = schema_errors(broken)
    assert any("helthcheck" in error for error in errors), errors
    assert any(error.startswith("volumes/object-store-data/driver") for error in errors), errors


def test_compose_runs_the_distributed_topology():
    services = compose()["services"]
    assert set(AIRFLOW_SERVICES + ["postgres", "redis", "object-store", "portal-emulator"]) <= set(services)
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES[:4]}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
    for name in ["postgres", "redis", "object-store", *AIRFLOW_SERVICES[:-1]]:
        assert "healthcheck" in services[name], name
    # Two workers: the source systems' and the portal's, each on the default queue and its own,
    # the queues the DAGs route extract and portal writes to.
    for name, queue in WORKERS.items():
        worker = services[name]
        assert worker["command"] == f"celery worker --queues default,{queue}", name
        env = worker["environment"]
        assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "default"
        assert env[f"OPENDATA_{'SOURCE' if queue == 'sources' else 'PORTAL'}_QUEUE"] == queue
        assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    init = services["airflow-init"]
    script = "\n".join(init["command"])
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    for step in ("opendata registry init", "opendata pools", "create_bucket", "opendata lint"):
        assert step in script, step
    # The image's /entrypoint runs `bash ...` and `python ...` as given and anything else as an
    # `airflow` subcommand (`/entrypoint opendata pools` would run `airflow opendata pools`).
    called = re.findall(r"/entrypoint (\S+)", script)
    assert called and set(called) <= {"airflow", "bash", "python"}, called
    assert called[0] == "airflow", "the database is migrated first (the pool lives in it)"


HOST_PATH = (".", "/", "~", "$")


def _named_volumes(service: dict) -> list[str]:
    return [entry.split(":", 1)[0] for entry in service.get("volumes", []) if not entry.startswith(HOST_PATH)]


def test_no_volume_is_shared_between_services():
    # Every service could run on another machine: a named volume belongs to one service, and no
    # Airflow service mounts a folder of this machine (the code is in the image).
    data = compose()
    owners: dict[str, list[str]] = {}
    for name, service in data["services"].items():
        for volume in _named_volumes(service):
            owners.setdefault(volume, []).append(name)
        if name.startswith("airflow-"):
            binds = [entry for entry in service.get("volumes", []) if entry.startswith(HOST_PATH)]
            assert binds == [], (name, binds)
    assert {volume: names for volume, names in owners.items() if len(names) > 1} == {}
    assert set(owners) == set(data["volumes"]), "a declared volume is unused, or a used one undeclared"
    assert "opendata-state" not in data["volumes"]
    # Each worker has a scratch volume of its own, and it is where its scratch folder points.
    for name in WORKERS:
        (volume,) = _named_volumes(data["services"][name])
        assert owners[volume] == [name]
        mount = data["services"][name]["volumes"][0].split(":", 1)[1]
        assert data["services"][name]["environment"]["OPENDATA_SCRATCH_DIR"] == mount


def test_compose_has_an_object_store_with_its_own_volume():
    store = compose()["services"]["object-store"]
    assert store["image"].startswith("chrislusf/seaweedfs:")
    assert "-s3" in store["command"].split() and "-dir=/data" in store["command"].split()
    assert _named_volumes(store) == ["object-store-data"]
    assert set(store["environment"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_every_airflow_service_has_the_storage_settings_and_waits_for_its_dependencies():
    services = compose()["services"]
    shared = None
    for name in AIRFLOW_SERVICES:
        service = services[name]
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["OPENDATA_INCLUDE_DIR"] == "/opt/airflow/include", name
        assert env["OPENDATA_REGISTRY_URL"].startswith("postgresql+psycopg://"), name
        # The store: staging and everything shared, and the task logs, through one connection.
        assert env["OPENDATA_STORAGE_URL"].startswith("s3://"), name
        conn_id = env["OPENDATA_STORAGE_CONN_ID"]
        assert env[f"AIRFLOW_CONN_{conn_id.upper()}"].startswith("${"), name
        assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "true", name
        assert env["AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID"] == conn_id, name
        assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"].startswith("s3://"), name
        settings = {key: value for key, value in env.items() if key.startswith(("OPENDATA_STORAGE", "OPENDATA_REGISTRY",
                                                                                "AIRFLOW__LOGGING__REMOTE"))}
        assert shared is None or settings == shared, name
        shared = settings
        for dependency in ("postgres", "redis", "object-store"):
            assert service["depends_on"][dependency]["condition"] == "service_healthy", (name, dependency)
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_compose_keeps_secrets_out_of_the_file():
    text = (ROOT / "docker-compose.yaml").read_text()
    for match in re.finditer(r"(AIRFLOW_CONN_\w+|\w*(?:SECRET|FERNET|JWT|ACCESS_KEY)\w*): (.*)", text):
        assert match.group(2).startswith("${"), match.group(0)
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_avoids_keys_only_compose_v2_accepts():
    # Keeps `docker-compose config` (v1) usable as a validator where no engine runs.
    data = compose()
    assert "name" not in data
    for service in data["services"].values():
        assert "start_interval" not in service.get("healthcheck", {})


def test_image_matches_the_pinned_airflow_and_carries_the_code():
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"FROM apache/airflow:{pins['apache-airflow']}-python3.11" in dockerfile
    assert "-r /opt/airflow/requirements.txt" in dockerfile
    # No service mounts the code: it travels in the image.
    for folder in ("plugins", "dags", "include"):
        assert f"COPY --chown=airflow:0 {folder} /opt/airflow/{folder}" in dockerfile, folder


def test_every_requirement_is_pinned_exactly():
    for name in ["requirements.txt", "requirements-dev.txt"]:
        for line in (ROOT / name).read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#") or line.startswith("-r "):
                continue
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line), f"{name}: {line!r} is not pinned"


def test_installed_environment_matches_the_pins():
    from importlib.metadata import PackageNotFoundError, version

    mismatched = []
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines() + \
            (ROOT / "requirements.txt").read_text().splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        name, pinned = line.strip().split("==")
        try:
            installed = version(name)
        except PackageNotFoundError:
            mismatched.append(f"{name} not installed")
            continue
        if installed != pinned:
            mismatched.append(f"{name} {installed} != {pinned}")
    assert mismatched == []
