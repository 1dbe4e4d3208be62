"""The files that deploy the project: compose, image, pins. Docker cannot run here, so these
are checked by reading them the way docker compose and pip would."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init"]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_compose_has_the_production_services():
    services = compose()["services"]
    assert set(AIRFLOW_SERVICES + ["postgres", "redis"]) <= set(services)
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES[:-1]}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer",
                        "airflow-worker": "celery worker"}
    for name in ["postgres", "redis", *AIRFLOW_SERVICES[:-1]]:
        assert "healthcheck" in services[name], name


def test_compose_airflow_services_share_config_mounts_and_wait_for_their_dependencies():
    services = compose()["services"]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["OPENDATA_INCLUDE_DIR"] == "/opt/airflow/include", name
        targets = {volume.rsplit(":", 1)[1] for volume in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include",
                "/opt/airflow/state"} <= targets, name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_compose_keeps_secrets_out_of_the_file():
    text = (ROOT / "docker-compose.yaml").read_text()
    for match in re.finditer(r"AIRFLOW_CONN_\w+: (.*)", text):
        assert match.group(1).startswith("${"), match.group(0)
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_avoids_keys_only_compose_v2_accepts():
    # Keeps `docker-compose config` (v1) usable as a validator where no engine runs.
    data = compose()
    assert "name" not in data
    for service in data["services"].values():
        assert "start_interval" not in service.get("healthcheck", {})


def test_image_matches_the_pinned_airflow():
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"FROM apache/airflow:{pins['apache-airflow']}-python3.11" in dockerfile
    assert "-r /opt/airflow/requirements.txt" in dockerfile


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
