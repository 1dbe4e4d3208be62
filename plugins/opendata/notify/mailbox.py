"""A local mail catcher for the demo and the tests: an SMTP server (aiosmtpd) that accepts
every message, stores it as an ``.eml`` file and prints one line per message.

    opendata mailbox --host 127.0.0.1 --port 8025 --dir .local/mail

Point Airflow at it with :func:`local_smtp_connection` (plain SMTP: no SSL, no STARTTLS, no
login)::

    AIRFLOW_CONN_SMTP_DEFAULT='{"conn_type": "smtp", "host": "127.0.0.1", "port": 8025,
        "extra": {"disable_ssl": true, "disable_tls": true, "from_email": "opendata@localhost"}}'

The SMTP envelope is kept in the stored file as ``X-MailFrom`` and ``X-RcptTo`` headers
(aiosmtpd's convention), so Cc and Bcc delivery can be checked from the file alone.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiosmtpd.controller import Controller

DEFAULT_FROM = "opendata@localhost"


def local_smtp_connection(port: int, host: str = "127.0.0.1", from_email: str = DEFAULT_FROM) -> str:
    """The Airflow SMTP connection (JSON, for ``AIRFLOW_CONN_SMTP_DEFAULT``) for a local server.

    ``SmtpHook`` defaults to SMTP over SSL *and* STARTTLS; both are switched off by extras.
    With no login the hook skips authentication. JSON keeps the extras real booleans.
    """
    return json.dumps({
        "conn_type": "smtp",
        "host": host,
        "port": int(port),
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": from_email, "timeout": 10},
    })


def local_smtp_connection_uri(port: int, host: str = "127.0.0.1", from_email: str = DEFAULT_FROM) -> str:
    """The same connection as a URI (``airflow connections add --conn-uri``).

    URI extras arrive as strings and the hook tests them for truth, so only ever write
    ``true`` here: ``disable_tls=false`` in a URI would also disable TLS.
    """
    query = urlencode({"disable_ssl": "true", "disable_tls": "true", "from_email": from_email, "timeout": "10"})
    return f"smtp://{host}:{int(port)}?{query}"


def _recipients_header(addresses: list[str]) -> str:
    return ", ".join(addresses)


def summary_line(when: dt.datetime, message: EmailMessage) -> str:
    cc = f"  Cc: {message['Cc']}" if message.get("Cc") else ""
    return f"{when:%Y-%m-%d %H:%M:%S}  To: {message.get('To', '')}{cc}  Subject: {message.get('Subject', '')}"


class _SaveHandler:
    """aiosmtpd handler: every DATA becomes one file, written atomically."""

    def __init__(self, directory: Path, echo: Callable[[str], None] | None):
        self.directory = directory
        self.echo = echo
        self._lock = threading.Lock()
        self._seq = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = dt.datetime.now().astimezone()
        content: bytes = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        head = (f"X-MailFrom: {envelope.mail_from}\r\n"
                f"X-RcptTo: {_recipients_header(envelope.rcpt_tos)}\r\n").encode()
        with self._lock:
            self._seq += 1
            name = f"{now:%Y%m%dT%H%M%S.%f}-{os.getpid()}-{self._seq:04d}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(head + content)
        tmp.replace(self.directory / name)
        if self.echo is not None:
            # The line needs the headers only. Parsing the whole MIME tree (every part's body) took
            # ~7 ms a message, four fifths of the catcher's time: a first freshness pass of 546
            # e-mails waited ~4 s on it, time a real mail server would not have cost.
            parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(content)
            self.echo(summary_line(now, parsed))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """A Controller that also works with port 0: it learns the bound port before its self-test."""

    def _trigger_server(self) -> None:
        # An asyncio.Server (what create_server returns) has its sockets; the type says AbstractServer.
        sockets = getattr(self.server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Mailbox:
    """A running mail catcher (see :func:`start_mailbox`)."""

    directory: Path
    host: str
    port: int
    _controller: _Controller

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        """Every stored message, oldest first, parsed with the modern e-mail policy."""
        return [read_message(path) for path in self.files()]

    def connection(self, from_email: str = DEFAULT_FROM) -> str:
        return local_smtp_connection(self.port, self.host, from_email)

    def stop(self) -> None:
        if self._controller._thread is not None:
            self._controller.stop()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_message(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        return email.message_from_binary_file(fh, policy=email.policy.default)


def start_mailbox(directory: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0, *,
                  echo: Callable[[str], None] | None = None) -> Mailbox:
    """Start the catcher in a background thread; ``port=0`` picks a free port (``.port``)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    mail_log = logging.getLogger("mail.log")  # aiosmtpd logs every SMTP command at INFO
    if mail_log.level == logging.NOTSET:
        mail_log.setLevel(logging.WARNING)
    controller = _Controller(_SaveHandler(folder, echo), hostname=host, port=port)
    controller.start()
    return Mailbox(directory=folder, host=host, port=controller.port, _controller=controller)


def serve(directory: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8025) -> int:
    """Run the catcher in the foreground until interrupted (the ``opendata mailbox`` command)."""
    import signal

    def echo(line: str) -> None:
        print(line, flush=True)

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    box = start_mailbox(directory, host, port, echo=echo)
    print(f"mailbox: smtp://{box.host}:{box.port}, saving to {box.directory}", flush=True)
    print(f"mailbox: AIRFLOW_CONN_SMTP_DEFAULT='{box.connection()}'", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0
