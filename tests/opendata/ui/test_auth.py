"""Every route of the Open Data view is behind Airflow's own sign-in: refused without a valid
JWT (a browser is sent to Airflow's login page), refused to a user without read access to DAGs,
served with the UI's cookie or a Bearer token. Through the real API server app."""

from __future__ import annotations

import pytest

from tests.opendata.ui.conftest import PREFIX, token

pytestmark = pytest.mark.postgres

ROUTES = ["/opendata/", "/opendata/?format=csv", f"/opendata/datasets/{PREFIX}-0003",
          f"/opendata/datasets/{PREFIX}-0003/report", "/opendata/timeline", "/opendata/data.json",
          "/opendata/reports/quarterly?quarter=2026-q3&format=csv"]


@pytest.mark.parametrize("route", ROUTES)
def test_refused_without_signing_in(anonymous, route):
    response = anonymous.get(route)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert "alert" not in response.text and PREFIX not in response.text.replace(route, "")


@pytest.mark.parametrize("route", ["/opendata/", f"/opendata/datasets/{PREFIX}-0003?x=1"])
def test_a_browser_is_sent_to_airflows_login_and_back(anonymous, route):
    response = anonymous.get(route, headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert response.status_code == 303
    from urllib.parse import parse_qs, urlsplit

    location = urlsplit(response.headers["location"])
    assert location.path == "/auth/login" and parse_qs(location.query)["next"] == [route]


@pytest.mark.parametrize("route", ROUTES)
def test_refused_with_a_forged_or_unprivileged_token(anonymous, route):
    forged = token()[:-4] + "AAAA"
    assert anonymous.get(route, headers={"Authorization": f"Bearer {forged}"}).status_code == 403
    anonymous.cookies.set("_token", forged)
    assert anonymous.get(route).status_code == 403
    anonymous.cookies.clear()
    # Signed in, but no role: no read access to DAGs.
    assert anonymous.get(route, headers={"Authorization": f"Bearer {token('nobody', None)}"}).status_code == 403


def test_served_with_the_ui_cookie_or_a_bearer_token(anonymous, coordinator):
    assert coordinator.get("/opendata/").status_code == 200
    response = anonymous.get("/opendata/", headers={"Authorization": f"Bearer {token('maria-alvarez', 'viewer')}"})
    assert response.status_code == 200 and "Open Data inventory" in response.text


def test_the_plugin_is_loaded_from_the_plugins_folder_with_its_navigation_entry(airflow_app):
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    assert errors == {}
    (plugin,) = [p for p in plugins if p.name == "opendata_ui"]
    assert str(plugin.source).endswith("opendata_ui_plugin.py")
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [(a["url_prefix"], a["name"]) for a in apps if a["url_prefix"] == "/opendata"] == [("/opendata",
                                                                                              "Open Data")]
    # A link in the Browse menu, opening the view in its own tab (not framed: see plugin.py).
    (view,) = plugin.external_views
    assert (view["name"], view["href"], view["destination"], view["category"]) == ("Open Data", "/opendata/", "nav",
                                                                                   "browse")
    assert "url_route" not in view and not view.get("nav_top_level")
