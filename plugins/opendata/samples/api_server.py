"""A small paged JSON API serving the restaurant-inspections sample, as a department's
source system might (``GET /api/v1/inspections?offset=0&limit=1000``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


def make_server(records_file: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    records = json.loads(records_file.read_text(encoding="utf-8"))["data"]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            if url.path != "/api/v1/inspections":
                return self._send(404, {"error": "not found"})
            query = parse_qs(url.query)
            try:
                offset = int(query.get("offset", ["0"])[0])
                limit = min(int(query.get("limit", ["1000"])[0]), 10_000)
            except ValueError:
                return self._send(400, {"error": "offset and limit must be integers"})
            self._send(200, {"data": records[offset:offset + limit], "total": len(records)})

        def _send(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format, *args):  # keep the demo's terminal quiet
            pass

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(records_file: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    server = make_server(records_file, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
