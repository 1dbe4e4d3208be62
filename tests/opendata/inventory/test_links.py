"""Links are built from validated ids only."""

from __future__ import annotations

import pytest

from opendata.catalog.dcat import PortalUrls
from opendata.inventory.links import Links, airflow_root


@pytest.mark.parametrize("base, root", [(None, "/"), ("", "/"), ("http://127.0.0.1:8080", "/"),
                                        ("https://airflow.example/", "/"), ("https://x.example/airflow", "/airflow/"),
                                        ("https://x.example/a b/", "/"), ("https://x.example/%2e%2e/", "/")])
def test_the_airflow_root_is_a_plain_path(base, root):
    assert airflow_root(base) == root


def test_links_from_valid_ids_and_none_otherwise():
    links = Links(root="/airflow/", portal=PortalUrls("127.0.0.1:8765", "http"))
    assert links.dag("building-permits") == "/airflow/dags/building-permits"
    assert links.required_actions("building-permits", "manual__2026-11-27T10:00:00+00:00",
                                  "department_approval") == (
        "/airflow/dags/building-permits/runs/manual__2026-11-27T10%3A00%3A00%2B00%3A00/tasks/department_approval/"
        "required_actions?map_index=-1")
    # A run id is Airflow's (any text): it is percent-encoded whole, it cannot leave the path.
    assert links.task("building-permits", '"><script>alert(1)</script>/../x', "validate") == (
        "/airflow/dags/building-permits/runs/%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E%2F..%2Fx/tasks/validate")
    for bad in ("../admin", "Building", "a b", "<script>", "javascript:alert(1)", "", "x" * 101):
        assert links.dag(bad) is None and links.required_actions(bad, "r", "t") is None
    assert links.task("building-permits", "r", "bad task") is None
    assert links.portal_dataset("abcd-1234") == "http://127.0.0.1:8765/d/abcd-1234"
    for bad in ("ABCD-1234", "abcd-12345", "../d/x", "javascript:x", None, ""):
        assert links.portal_dataset(bad) is None
    assert Links().portal_dataset("abcd-1234") is None
    with pytest.raises(ValueError):
        Links(root="https://evil.example/")
