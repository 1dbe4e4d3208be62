"""Deliver a composed :class:`~opendata.notify.compose.Message`: e-mail through the SMTP
provider, plus an optional Slack incoming webhook.

E-mail is the record and must succeed; Slack is a courtesy copy and never fails a send.

The SMTP provider's ``send_email_smtp`` only builds HTML-only messages, so the message
(multipart/alternative: text, then HTML) is built here and handed to the client the hook
opened. The hook still does everything connection-related from the Airflow connection:
host, port, SSL or STARTTLS (``disable_ssl`` / ``disable_tls`` extras), login when one is
set, OAuth2, timeout, and the sender (``from_email`` extra).

Slack: an Airflow connection (``opendata_slack`` by default) holding an incoming-webhook URL,
either in the extra ``webhook_url`` or as the whole URL in ``host``, or as an HTTP
connection URI (``AIRFLOW_CONN_OPENDATA_SLACK=https://hooks.slack.com/services/T/B/X``).
The webhook URL is a secret: it is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid
from typing import Any

from opendata.notify.compose import Message

log = logging.getLogger(__name__)

DEFAULT_FROM = "opendata@localhost"
SLACK_TIMEOUT_SECONDS = 10
SLACK_MAX_CHARS = 3500


class NotificationError(RuntimeError):
    """A notification could not be e-mailed."""


class _RememberingPolicy(EmailPolicy):
    """``email.policy.default`` that remembers the headers it parsed and folded.

    The standard library parses every header value it is given (addresses, encoded words,
    MIME parameters) and parses it again to fold it when the message is written: ~4 ms a
    message, most of a first freshness pass's time spent building its 546 e-mails. Most header
    lines recur from message to message (sender, coordinators, the CDO, event, content types),
    so each distinct (name, value) is parsed and folded once. Header objects are immutable
    and folding is a function of the value and the policy's output settings, so the bytes are
    exactly those of ``email.policy.default``."""

    _MAX = 4096  # distinct header lines kept; emptied when full (no unbounded growth)
    _parsed: dict[tuple[str, str], tuple[str, Any]] = {}
    _folded: dict[tuple[Any, ...], bytes] = {}

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if type(value) is not str:  # already a header object (copied from another message)
            return super().header_store_parse(name, value)
        parse = super().header_store_parse
        return _remembered(self._parsed, (name, value), lambda: parse(name, value), self._MAX)

    def fold_binary(self, name: str, value: Any) -> bytes:
        key = (name, str(value), type(value), self.linesep, self.utf8, self.max_line_length, self.cte_type,
               self.refold_source)
        fold = super().fold_binary
        return _remembered(self._folded, key, lambda: fold(name, value), self._MAX)


def _remembered(memo: dict, key: Any, compute: Callable[[], Any], limit: int) -> Any:
    """``compute()``, remembered under ``key`` in ``memo``, which is emptied when it holds ``limit``."""
    value = memo.get(key)
    if value is None:
        value = compute()
        if len(memo) >= limit:
            memo.clear()
        memo[key] = value
    return value


_POLICY = _RememberingPolicy()


def build_email(message: Message, from_email: str) -> EmailMessage:
    """The MIME message: multipart/alternative with the text part first, the HTML part last;
    with attachments, that is the first part of a multipart/mixed followed by each file."""
    mail = EmailMessage(policy=_POLICY)
    mail["Subject"] = message.subject
    mail["From"] = from_email
    mail["To"] = ", ".join(message.to)
    if message.cc:
        mail["Cc"] = ", ".join(message.cc)
    mail["Date"] = formatdate(localtime=True)
    domain = from_email.rpartition("@")[2].strip("> ") or "localhost"
    mail["Message-ID"] = make_msgid(domain=domain)
    if message.event:
        mail["X-OpenData-Event"] = message.event
    if message.dataset_id:
        mail["X-OpenData-Dataset"] = message.dataset_id
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        mail.add_attachment(attachment.content, maintype=maintype, subtype=subtype or "octet-stream",
                            filename=attachment.filename)
    return mail


def email_bytes(mail: EmailMessage, *, smtputf8: bool = False) -> bytes:
    """The message as sent: CRLF line ends, and body lines exactly as written.

    ``smtplib.SMTP.send_message`` flattens with a generator without a policy, which falls back
    to ``mangle_from_=True``, the mbox convention: every body line starting with "From " goes out
    as ">From " (the approved-and-public e-mail read ">From now on ..."). SMTP needs no such
    escaping (the end of DATA is a lone ".", which smtplib escapes itself), so this flattens
    with the message's own policy and ``mangle_from_`` off."""
    base = mail.policy
    if not isinstance(base, EmailPolicy):  # built by build_email: always an EmailPolicy
        raise TypeError(f"a message with the email.policy API is needed, not {type(base).__name__}")
    policy = base.clone(linesep="\r\n", mangle_from_=False, utf8=smtputf8)
    return mail.as_bytes(policy=policy)


def _describe(message: Message) -> str:
    event = message.event or "notification"
    return f"{event} notification for {message.dataset_id}" if message.dataset_id else f"{event} notification"


class Mailer:
    """E-mail through one SMTP connection, opened on the first message and kept for the rest.

    The freshness monitor's first pass can remind hundreds of departments; a connection (and a
    login) per message would cost more than the messages. A server that dropped the idle line
    is reconnected once. Use as a context manager; :func:`send_email` is one message's mailer.
    """

    def __init__(self, smtp_conn_id: str = "smtp_default") -> None:
        self.smtp_conn_id = smtp_conn_id
        self._hook: Any = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        hook, self._hook = self._hook, None
        if hook is None:
            return
        client = getattr(hook, "_smtp_client", None)
        try:
            if client is not None:
                client.quit()
        except Exception:  # noqa: BLE001 - every message was delivered; a server dropping the line at QUIT is fine
            pass
        try:
            hook.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - the connection is gone either way
            pass

    def _open(self) -> Any:
        if self._hook is None:
            from airflow.providers.smtp.hooks.smtp import SmtpHook

            self._hook = SmtpHook(smtp_conn_id=self.smtp_conn_id).__enter__()
        return self._hook

    def _prepare(self, message: Message) -> Callable[[], None] | None:
        """Open the connection if needed (in the caller's thread: it reads the Airflow connection)
        and build the message's bytes; return what puts them on the wire, which touches only the
        open SMTP client. None: a provider without a client to hand (sent by :meth:`send`)."""
        hook = self._open()
        from_email = hook.from_email or DEFAULT_FROM
        client = getattr(hook, "_smtp_client", None)
        if client is None:
            return None
        recipients = list(message.envelope_recipients)
        # Like send_message: an address that is not ASCII needs the server's SMTPUTF8 extension.
        smtputf8 = not all(address.isascii() for address in [from_email, *recipients])
        options = ["SMTPUTF8", "BODY=8BITMIME"] if smtputf8 else []
        payload = email_bytes(build_email(message, from_email), smtputf8=smtputf8)

        def transmit() -> None:
            if smtputf8:
                client.ehlo_or_helo_if_needed()
                if not client.has_extn("smtputf8"):
                    import smtplib

                    raise smtplib.SMTPNotSupportedError(
                        "an address is not ASCII and the server does not offer SMTPUTF8")
            client.sendmail(from_email, recipients, payload, mail_options=options)

        return transmit

    def _deliver(self, message: Message) -> None:
        transmit = self._prepare(message)
        if transmit is not None:
            transmit()
            return
        # A future provider without the client attribute: HTML-only, but delivered.
        hook = self._open()
        hook.send_email_smtp(to=list(message.to), cc=list(message.cc) or None, subject=message.subject,
                             html_content=message.html, from_email=hook.from_email or DEFAULT_FROM)

    def _failed(self, message: Message, exc: BaseException) -> NotificationError:
        self.close()  # whatever state the line is in, the next message starts clean
        return NotificationError(
            f"could not e-mail the {_describe(message)} through connection {self.smtp_conn_id!r}: "
            f"{type(exc).__name__}: {exc}")

    def send(self, message: Message) -> None:
        """E-mail ``message``; raises :class:`NotificationError` naming the event and dataset
        (never a credential)."""
        import smtplib

        try:
            try:
                self._deliver(message)
            except smtplib.SMTPServerDisconnected:
                # An idle connection the server closed: once more, on a fresh one.
                self.close()
                self._deliver(message)
        except Exception as exc:
            raise self._failed(message, exc) from exc
        log.info("E-mailed %s to %s", _describe(message), ", ".join(message.envelope_recipients))

    def send_all(self, messages: Iterable[Message]) -> Iterator[NotificationError | None]:
        """E-mail each message in turn; yield, in order, None for each delivered or the error that
        stopped it (the others still go).

        The next message is built while the previous one is on the wire: one thread sends, one
        message at a time, in order, over the one connection, and only ever touches the open
        client (connecting, which reads the Airflow connection, stays in the caller's thread).
        Building a first freshness pass's e-mails took as long as the server took to accept
        them; now they overlap. A message whose line dropped is sent again as :meth:`send` does.
        """
        import smtplib
        from concurrent.futures import Future, ThreadPoolExecutor

        def settle(message: Message, sent: Future[None]) -> NotificationError | None:
            try:
                sent.result()
            except smtplib.SMTPServerDisconnected:
                try:
                    self.close()
                    self._deliver(message)  # once more, on a fresh connection, in this thread
                except Exception as exc:  # noqa: BLE001 - reported as this message's error
                    return self._failed(message, exc)
            except Exception as exc:  # noqa: BLE001 - reported as this message's error
                return self._failed(message, exc)
            log.info("E-mailed %s to %s", _describe(message), ", ".join(message.envelope_recipients))
            return None

        with ThreadPoolExecutor(1, thread_name_prefix="smtp") as wire:
            in_flight: tuple[Message, Future[None]] | None = None
            for message in messages:
                hook = self._hook
                error: Exception | None
                try:
                    transmit = self._prepare(message)  # while the previous message is on the wire
                except Exception as exc:  # noqa: BLE001 - reported in order, below
                    transmit, error = None, exc
                else:
                    error = None
                    hook = self._hook
                if in_flight is not None:
                    yield settle(*in_flight)
                    in_flight = None
                    if error is None and self._hook is not hook:
                        # The previous message's failure closed the connection this one was
                        # made ready for: ready it again, on a fresh one (opened here).
                        try:
                            transmit = self._prepare(message)
                        except Exception as exc:  # noqa: BLE001 - reported in order, below
                            error = exc
                if error is not None:
                    yield self._failed(message, error)
                elif transmit is None:
                    try:
                        self.send(message)
                    except NotificationError as failed:
                        yield failed
                    else:
                        yield None
                else:
                    in_flight = (message, wire.submit(transmit))
            if in_flight is not None:
                yield settle(*in_flight)


def send_email(message: Message, *, smtp_conn_id: str = "smtp_default", mailer: Mailer | None = None) -> None:
    """E-mail ``message`` through the Airflow SMTP connection ``smtp_conn_id`` (or ``mailer``'s).

    Raises :class:`NotificationError` naming the event and dataset (never a credential).
    """
    if mailer is not None:
        mailer.send(message)
        return
    with Mailer(smtp_conn_id) as own:
        own.send(message)


def slack_webhook_url(conn: Any) -> str | None:
    """The webhook URL an Airflow connection holds, or None."""
    extra = conn.extra_dejson or {}
    if extra.get("webhook_url"):
        return str(extra["webhook_url"])
    host = (conn.host or "").strip()
    if not host:
        return None
    if host.startswith(("http://", "https://")):
        return host
    scheme = extra.get("scheme") or (conn.conn_type if conn.conn_type in ("http", "https") else "https")
    port = f":{conn.port}" if conn.port else ""
    path = (conn.schema or "").strip("/")
    return f"{scheme}://{host}{port}/{path}"


def slack_escape(text: str) -> str:
    """Slack's own escaping of message text (its formatting docs): ``&``, ``<`` and ``>``. Dataset
    names, reasons and errors come from people and files; unescaped, ``<!channel>`` would ping a
    whole channel and ``<https://evil|Open the report>`` would show a disguised link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(message: Message) -> str:
    text = f"*{slack_escape(message.subject)}*\n{slack_escape(message.text.strip())}"
    return text if len(text) <= SLACK_MAX_CHARS else text[: SLACK_MAX_CHARS - 20].rstrip() + "\n[... truncated]"


def post_to_slack(message: Message, *, slack_conn_id: str = "opendata_slack") -> bool:
    """Post ``message`` to the Slack webhook in ``slack_conn_id``; True if it was accepted.

    No connection: skipped (debug log). Any failure: a warning, never an exception.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(slack_conn_id)
    except AirflowNotFoundException:
        log.debug("No %r connection: not posting the %s to Slack", slack_conn_id, _describe(message))
        return False
    except Exception as exc:
        log.warning("Could not read the %r connection (%s); not posting to Slack", slack_conn_id, type(exc).__name__)
        return False
    url = slack_webhook_url(conn)
    if not url:
        log.warning("Connection %r holds no webhook URL; not posting to Slack", slack_conn_id)
        return False

    import requests

    try:
        response = requests.post(url, json={"text": slack_text(message)}, timeout=SLACK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        # The exception text would contain the URL, which is the secret: report the type only.
        log.warning("Slack webhook (%r) failed for the %s: %s", slack_conn_id, _describe(message), type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("Slack webhook (%r) answered HTTP %s for the %s", slack_conn_id, response.status_code,
                    _describe(message))
        return False
    return True


def send(message: Message, *, smtp_conn_id: str = "smtp_default", slack_conn_id: str | None = "opendata_slack",
         mailer: Mailer | None = None) -> None:
    """E-mail ``message``, and post it to Slack when ``slack_conn_id`` exists.

    Slack is tried even when the e-mail failed; the e-mail error is raised afterwards.
    ``slack_conn_id=None`` turns Slack off. ``mailer``: an open :class:`Mailer` to send through
    (many messages, one SMTP connection).
    """
    email_error: NotificationError | None = None
    try:
        send_email(message, smtp_conn_id=smtp_conn_id, mailer=mailer)
    except NotificationError as exc:
        email_error = exc
    if slack_conn_id:
        post_to_slack(message, slack_conn_id=slack_conn_id)
    if email_error is not None:
        raise email_error
