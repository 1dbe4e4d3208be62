"""Fixtures for the notification tests: the repository's dataset and governance files, a real
SMTP server (the project's own mail catcher) wired to Airflow's ``smtp_default`` connection,
and a local HTTP server standing in for a Slack incoming webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opendata import settings
from opendata.lifecycle.context import load_spec
from opendata.notify.mailbox import start_mailbox
from opendata.spec.loader import load_governance

ALICIA = "Alicia Grant <alicia.grant@ladbs.lacity.example>"
JORGE = "Jorge Ramos <jorge.ramos@ladbs.lacity.example>"
LUIS = "Luis Herrera <luis.herrera@ladbs.lacity.example>"
MARIA = "Maria Alvarez <cdo@opendata.lacity.example>"
DANIEL = "Daniel Kim <daniel.kim@mayor.lacity.example>"
PRIYA = "Priya Shah <priya.shah@mayor.lacity.example>"
TOM = "Tom Becker <press@mayor.lacity.example>"


@pytest.fixture(scope="session")
def permits_spec():
    return load_spec("building-permits")


@pytest.fixture(scope="session")
def governance():
    loaded, errors = load_governance(settings.governance_file())
    assert loaded is not None, errors
    return loaded


@pytest.fixture
def mailbox(tmp_path, monkeypatch):
    """A running mail catcher; ``smtp_default`` points at it and no Slack connection exists."""
    box = start_mailbox(tmp_path / "mail")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", box.connection())
    monkeypatch.delenv("AIRFLOW_CONN_OPENDATA_SLACK", raising=False)
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    yield box
    box.stop()


class SlackReceiver:
    """Records every POST body; answers with ``status``."""

    def __init__(self, status: int = 200):
        self.status = status
        self.posts: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append({"path": self.path, "json": json.loads(body or b"null"),
                                       "content_type": self.headers.get("Content-Type")})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/services/T000/B000/secret-token"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack():
    receiver = SlackReceiver()
    yield receiver
    receiver.stop()
