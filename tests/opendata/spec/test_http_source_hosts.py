"""Lint refuses an HTTP source whose host the deployment did not choose (see spec/urls.py)."""

from __future__ import annotations

from opendata.spec.loader import load_catalog
from tests.opendata.spec.conftest import edit


def test_lint_refuses_a_host_the_deployment_did_not_allow(include_copy):
    path = include_copy / "datasets/environmental-health/restaurant-inspections.yaml"
    edit(path, "  conn_id: inspections_api\n  url: /api/v1/inspections\n",
         "  url: http://169.254.169.254/latest/meta-data/iam\n")
    (error,) = load_catalog(include_copy).errors
    assert str(error).startswith(f"{path}:") and "source.url" in str(error) and "169.254.169.254" in str(error)
    assert "OPENDATA_HTTP_SOURCE_HOSTS" in str(error)


def test_a_listed_host_is_accepted(include_copy, monkeypatch):
    monkeypatch.setenv("OPENDATA_HTTP_SOURCE_HOSTS", "data.lacity.org")
    path = include_copy / "datasets/environmental-health/restaurant-inspections.yaml"
    edit(path, "  conn_id: inspections_api\n  url: /api/v1/inspections\n",
         "  url: https://data.lacity.org/api/inspections.json\n")
    assert load_catalog(include_copy).errors == []
