"""The mail catcher: its Python API and ``opendata mailbox`` end to end."""

from __future__ import annotations

import os
import queue
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from email.message import EmailMessage

from opendata.notify.mailbox import local_smtp_connection, local_smtp_connection_uri, start_mailbox


def _message(subject: str, to: str = "someone@city.example", cc: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "opendata@localhost"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg.set_content("hello")
    return msg


def test_start_mailbox_on_a_free_port_stores_messages_in_order(tmp_path):
    with start_mailbox(tmp_path / "mail") as box:
        assert box.port > 0
        with smtplib.SMTP(box.host, box.port, timeout=5) as client:
            client.send_message(_message("first", cc="cc@city.example"))
            client.send_message(_message("second"), to_addrs=["someone@city.example", "hidden@city.example"])
        first, second = box.messages()
        assert [first["Subject"], second["Subject"]] == ["first", "second"]
        assert first["X-RcptTo"] == "someone@city.example, cc@city.example"
        assert second["X-RcptTo"] == "someone@city.example, hidden@city.example"  # Bcc shows in the envelope
        assert first["X-MailFrom"] == "opendata@localhost"
        names = [p.name for p in box.files()]
        assert all(re.fullmatch(r"\d{8}T\d{6}\.\d{6}-\d+-\d{4}\.eml", n) for n in names), names
    assert not list((tmp_path / "mail").glob(".*.tmp"))


def test_the_summary_line_decodes_headers_of_a_multipart_message(tmp_path):
    # The catcher reads only the headers for its line (the whole MIME tree cost it more than
    # storing the message); encoded words must still read as written.
    lines: list[str] = []
    msg = _message("Überfällig: 3 Datensätze", to="José Núñez <jose@city.example>", cc="cdo@city.example")
    msg.add_alternative("<p>hello</p>", subtype="html")
    with start_mailbox(tmp_path / "mail", echo=lines.append) as box:
        with smtplib.SMTP(box.host, box.port, timeout=5) as client:
            client.send_message(msg)
        assert box.messages()[0].get_body(("html",)).get_content().strip() == "<p>hello</p>"
    (line,) = lines
    assert line.endswith("  To: José Núñez <jose@city.example>  Cc: cdo@city.example  "
                         "Subject: Überfällig: 3 Datensätze"), line


def test_connection_forms():
    assert '"disable_ssl": true' in local_smtp_connection(8025)
    assert '"disable_tls": true' in local_smtp_connection(8025)
    assert local_smtp_connection_uri(8025) == (
        "smtp://127.0.0.1:8025?disable_ssl=true&disable_tls=true&from_email=opendata%40localhost&timeout=10")


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line.rstrip("\n"))


def _expect(lines: queue.Queue, pattern: str, timeout: float = 20) -> re.Match:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"no line matching {pattern!r} in {seen!r}")


def test_mailbox_command_end_to_end(tmp_path):
    folder = tmp_path / "mail"
    proc = subprocess.Popen([sys.executable, "-m", "opendata", "mailbox", "--port", "0", "--dir", str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        port = int(_expect(lines, r"mailbox: smtp://127\.0\.0\.1:(\d+), saving to ")[1])
        _expect(lines, r"AIRFLOW_CONN_SMTP_DEFAULT='\{.*\"disable_tls\": true")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(_message("[Open Data] Hello from the test", to="Jorge Ramos <jorge@city.example>",
                                         cc="cdo@city.example"))
        line = _expect(lines, r"Subject: ").string
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  To: Jorge Ramos <jorge@city\.example>  "
                            r"Cc: cdo@city\.example  Subject: \[Open Data\] Hello from the test", line), line
        [eml] = folder.glob("*.eml")
        assert "Subject: [Open Data] Hello from the test" in eml.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    assert code == 0
