"""An HTTP source fetches only from hosts the deployment chose: a connection's, or one listed in
OPENDATA_HTTP_SOURCE_HOSTS; redirects never lead elsewhere. A dataset file must not make a worker
fetch a cloud metadata service or an internal page and publish the answer."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opendata.sources.base import ExtractError
from opendata.sources.stage import extract_to_stage
from opendata.spec.urls import http_url_problem
from tests.conftest import SAMPLE_SOURCES
from tests.opendata.sources.test_extract import spec_with


@pytest.mark.parametrize("url,conn_id,allowed,problem", [
    ("https://data.lacity.org/resource/x.json", None, ["data.lacity.org"], None),
    ("https://data.lacity.org:8443/x", None, ["data.lacity.org:8443"], None),
    ("/api/v1/inspections", "inspections_api", [], None),
    ("http://169.254.169.254/latest/meta-data/", None, [], "host '169.254.169.254' is not one the deployment"),
    ("https://data.lacity.org:8443/x", None, ["data.lacity.org:443"], "is not one the deployment"),
    ("https://user:pw@data.lacity.org/x", None, ["data.lacity.org"], "must not carry credentials"),
    ("file:///etc/passwd", None, ["localhost"], "must be an http:// or https:// address"),
    ("http://internal.example/x", "inspections_api", [], "url must be a path on it"),
    ("//internal.example/x", "inspections_api", [], "url must be a path on it"),
    ("/x\r\nHost: evil", "inspections_api", [], "contains a control character"),
    ("https://[::1", None, ["::1"], "is not a valid address"),
])
def test_which_urls_a_dataset_file_may_name(url, conn_id, allowed, problem):
    found = http_url_problem(url, conn_id=conn_id, allowed_hosts=allowed)
    assert (found is None) if problem is None else (problem in found)


class _Redirecting(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):  # noqa: N802 - the standard library's name
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", self.target if self.target else "/restaurant_inspections.json")
            self.end_headers()
            return
        body = (SAMPLE_SOURCES / "restaurant_inspections.json").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def redirecting(monkeypatch):
    monkeypatch.setenv("OPENDATA_HTTP_SOURCE_HOSTS", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    _Redirecting.target = ""


def _inspections(url: str):
    return spec_with("restaurant-inspections", source={"kind": "http", "url": url, "format": "json",
                                                       "records_path": "data"})


def test_a_redirect_on_the_same_host_is_followed(redirecting, tmp_path):
    assert extract_to_stage(_inspections(f"{redirecting}/moved"), tmp_path / "x.parquet").rows == 3000


def test_a_redirect_to_another_host_is_not_followed(redirecting, tmp_path):
    _Redirecting.target = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(ExtractError, match="redirects to another host"):
        extract_to_stage(_inspections(f"{redirecting}/moved"), tmp_path / "x.parquet")


def test_at_run_time_a_host_no_longer_allowed_is_not_fetched(redirecting, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENDATA_HTTP_SOURCE_HOSTS", "data.lacity.org")
    with pytest.raises(ExtractError, match="is not one the deployment allows"):
        extract_to_stage(_inspections(f"{redirecting}/restaurant_inspections.json"), tmp_path / "x.parquet")
