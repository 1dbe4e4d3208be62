"""send(): real SMTP delivery to the project's mail catcher, and the optional Slack webhook."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from opendata.notify.compose import Attachment, compose
from opendata.notify.events import NotificationEvent
from opendata.notify.mailbox import local_smtp_connection, local_smtp_connection_uri, start_mailbox
from opendata.notify.send import Mailer, NotificationError, send

from .conftest import JORGE, LUIS, MARIA, SlackReceiver

DETAILS = {"notes": "Column <valuation> needs a definition.", "reviewer": "Maria Alvarez",
           "portal_url": "http://portal.example/d/bp01-perm"}


@pytest.fixture
def rejected(permits_spec, governance):
    return compose(NotificationEvent.REJECTED, permits_spec, governance, DETAILS)


def test_email_is_delivered_multipart_to_and_cc(mailbox, rejected):
    send(rejected)
    [mail] = mailbox.messages()
    assert mail["Subject"] == "[Open Data] Stage 1: Building Permits was rejected"
    assert mail["From"] == "opendata@localhost"
    assert [str(a) for a in mail["To"].addresses] == [JORGE, LUIS]
    assert [str(a) for a in mail["Cc"].addresses] == [MARIA]
    # The SMTP envelope reaches every To and Cc address.
    assert mail["X-RcptTo"] == "jorge.ramos@ladbs.lacity.example, luis.herrera@ladbs.lacity.example, " \
                               "cdo@opendata.lacity.example"
    assert mail["X-OpenData-Event"] == "rejected" and mail["X-OpenData-Dataset"] == "building-permits"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert "Column <valuation> needs a definition." in text.get_content()
    assert "Column &lt;valuation&gt; needs a definition." in html.get_content()
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]


def test_from_address_comes_from_the_connection(mailbox, monkeypatch, rejected):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", local_smtp_connection(mailbox.port, from_email="data@city.example"))
    send(rejected)
    [mail] = mailbox.messages()
    assert mail["From"] == "data@city.example"
    assert mail["X-MailFrom"] == "data@city.example"


def test_uri_form_of_the_local_connection_works(mailbox, monkeypatch, rejected):
    monkeypatch.setenv("AIRFLOW_CONN_MAIL_URI", local_smtp_connection_uri(mailbox.port))
    send(rejected, smtp_conn_id="mail_uri")
    assert len(mailbox.messages()) == 1


def test_smtp_failure_names_event_and_dataset(mailbox, monkeypatch, rejected):
    port = mailbox.port
    mailbox.stop()  # nothing listens there any more
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": "mailer", "password": "s3cret-pw",
         "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 2}}))
    with pytest.raises(NotificationError) as caught:
        send(rejected)
    message = str(caught.value)
    assert "rejected notification for building-permits" in message
    assert "smtp_default" in message
    assert "s3cret-pw" not in message and "mailer" not in message


def test_a_mailer_sends_many_messages_over_one_connection(mailbox, monkeypatch, rejected):
    import smtplib

    connects = []
    real_connect = smtplib.SMTP.connect

    def counted(self, *args, **kwargs):  # the real connect, counted
        connects.append(args)
        return real_connect(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "connect", counted)
    with Mailer() as mailer:
        for _ in range(3):
            send(rejected, slack_conn_id=None, mailer=mailer)
    assert len(mailbox.messages()) == 3
    assert len(connects) == 1


def test_a_mailer_reconnects_when_the_server_dropped_the_idle_line(mailbox, rejected):
    with Mailer() as mailer:
        mailer.send(rejected)
        mailer._hook._smtp_client.sock.close()  # what a server's idle timeout leaves behind
        mailer.send(rejected)
    assert len(mailbox.messages()) == 2


def test_a_mailer_names_the_message_it_could_not_send_and_goes_on(mailbox, monkeypatch, rejected):
    port = mailbox.port
    with Mailer() as mailer:
        mailer.send(rejected)
        mailbox.stop()
        with pytest.raises(NotificationError, match="rejected notification for building-permits"):
            mailer.send(rejected)
        restarted = start_mailbox(mailbox.directory, port=port)
        try:
            mailer.send(rejected)  # a fresh connection after the failure
        finally:
            restarted.stop()
    assert len(mailbox.messages()) == 2


def test_missing_smtp_connection_is_a_clear_error(mailbox, monkeypatch, rejected):
    with pytest.raises(NotificationError, match="rejected notification for building-permits.*'no_such_smtp'"):
        send(rejected, smtp_conn_id="no_such_smtp")


def test_slack_webhook_receives_the_message(mailbox, monkeypatch, slack, rejected):
    monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", json.dumps({"conn_type": "http", "host": slack.url}))
    send(rejected)
    [post] = slack.posts
    assert post["path"] == "/services/T000/B000/secret-token"
    assert post["content_type"] == "application/json"
    assert post["json"]["text"].startswith("*[Open Data] Stage 1: Building Permits was rejected*")
    # Slack's escaping: a person's text cannot become a link, a mention or markup there.
    assert "Column &lt;valuation&gt; needs a definition." in post["json"]["text"]
    assert len(mailbox.messages()) == 1


def test_slack_text_cannot_ping_a_channel_or_disguise_a_link():
    from opendata.notify.compose import Message
    from opendata.notify.send import slack_text

    hostile = Message(subject="<!channel> Permits & more", text="Read <https://evil.example|the report>",
                      html="", to=(), cc=())
    text = slack_text(hostile)
    assert "<" not in text and ">" not in text
    assert text == "*&lt;!channel&gt; Permits &amp; more*\nRead &lt;https://evil.example|the report&gt;"


def test_slack_webhook_url_in_extra_or_as_uri(mailbox, monkeypatch, slack, rejected):
    monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", json.dumps(
        {"conn_type": "http", "extra": {"webhook_url": slack.url}}))
    send(rejected)
    monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", slack.url)  # http://127.0.0.1:port/services/...
    send(rejected)
    assert [p["path"] for p in slack.posts] == ["/services/T000/B000/secret-token"] * 2


def test_without_slack_connection_nothing_is_posted(mailbox, slack, rejected, caplog):
    with caplog.at_level(logging.DEBUG, logger="opendata.notify.send"):
        send(rejected)
    assert slack.posts == []
    assert len(mailbox.messages()) == 1
    assert "No 'opendata_slack' connection" in caplog.text


def test_slack_error_does_not_stop_the_email(mailbox, monkeypatch, rejected, caplog):
    failing = SlackReceiver(status=500)
    try:
        monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", json.dumps({"conn_type": "http", "host": failing.url}))
        with caplog.at_level(logging.WARNING, logger="opendata.notify.send"):
            send(rejected)
    finally:
        failing.stop()
    assert len(failing.posts) == 1  # one attempt, no retries
    assert len(mailbox.messages()) == 1
    assert "answered HTTP 500" in caplog.text
    assert "secret-token" not in caplog.text


def test_unreachable_slack_is_a_warning_without_the_url(mailbox, monkeypatch, rejected, caplog):
    dead = SlackReceiver()
    url = dead.url
    dead.stop()
    monkeypatch.setenv("AIRFLOW_CONN_OPENDATA_SLACK", json.dumps({"conn_type": "http", "host": url}))
    with caplog.at_level(logging.WARNING, logger="opendata.notify.send"):
        send(rejected)
    assert len(mailbox.messages()) == 1
    assert "Slack webhook" in caplog.text and "ConnectionError" in caplog.text
    assert "secret-token" not in caplog.text


def test_a_body_line_starting_with_from_arrives_unchanged(mailbox, permits_spec, governance):
    # The approved-and-public e-mail has a paragraph starting "From now on"; smtplib's
    # send_message escaped it mbox-style as ">From now on".
    message = compose(NotificationEvent.APPROVED_PUBLIC, permits_spec, governance,
                      {"portal_url": "http://portal.example/d/bp01-perm"})
    assert "\nFrom now on the open data coordinator" in message.text
    send(message)
    [path] = mailbox.files()
    assert b"\n>From" not in path.read_bytes()
    [mail] = mailbox.messages()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "\nFrom now on the open data coordinator" in text
    assert text == message.text.replace("\r\n", "\n")


def test_a_line_of_a_lone_dot_and_a_from_line_survive_smtp(mailbox, rejected):
    # SMTP's own escaping (a lone "." ends DATA) is still done; mbox's is not.
    text = "From here on:\n.\n..two dots\nFrom the end"
    send(dataclasses.replace(rejected, text=text))
    [mail] = mailbox.messages()
    assert mail.get_body(preferencelist=("plain",)).get_content().rstrip("\n") == text


def test_the_checklist_report_is_a_real_attachment(mailbox, permits_spec, governance):
    report = b"<!DOCTYPE html><html><body><h1>Report &lt;b&gt;</h1>\nFrom the start</body></html>\n"
    message = dataclasses.replace(
        compose(NotificationEvent.STAGE1_READY_FOR_REVIEW, permits_spec, governance,
                {"report_attached": "data-submission-checklist.html"}),
        attachments=(Attachment("data-submission-checklist.html", report, "text/html"),))
    send(message)
    [mail] = mailbox.messages()
    assert mail.get_content_type() == "multipart/mixed"
    body, attached = list(mail.iter_parts())
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_filename() == "data-submission-checklist.html"
    assert attached.get_content_type() == "text/html"
    assert attached.get_payload(decode=True) == report
    assert "report is attached: data-submission-checklist.html" in mail.get_body(("plain",)).get_content()


def test_remembered_headers_give_the_standard_librarys_bytes(rejected, monkeypatch):
    # build_email remembers parsed and folded header lines between messages (speed); the bytes
    # must be those email.policy.default writes, for recurring and new headers, long subjects
    # folded across lines, non-ASCII names, attachments, and both SMTPUTF8 modes one after the
    # other (the folding depends on it).
    import email.policy
    import re

    from opendata.notify import send as send_module

    def normalized(raw: bytes) -> bytes:
        raw = re.sub(rb"(?m)^(Date|Message-ID): .*\r\n", b"", raw)
        return re.sub(rb"={15}\d+==", b"BOUNDARY", raw)

    long_subject = "Überfällig: " + " ".join(f"Datensatz {i} der Abteilung Stadtreinigung" for i in range(6))
    messages = [
        rejected,
        dataclasses.replace(rejected, subject=long_subject, to=("José Núñez <jose@city.example>", *rejected.to)),
        dataclasses.replace(rejected, to=("ünï@city.example",), cc=()),
        dataclasses.replace(rejected, attachments=(Attachment("report.html", b"<p>report</p>", "text/html"),)),
        rejected,
    ]
    remembered = [send_module.email_bytes(send_module.build_email(m, "opendata@localhost"), smtputf8=utf8)
                  for utf8 in (False, True) for m in messages]
    monkeypatch.setattr(send_module, "_POLICY", email.policy.default)
    standard = [send_module.email_bytes(send_module.build_email(m, "opendata@localhost"), smtputf8=utf8)
                for utf8 in (False, True) for m in messages]
    assert [normalized(b) for b in remembered] == [normalized(b) for b in standard]
    assert b"=?utf-8?" in standard[1] and "Überfällig".encode() in standard[6]  # both modes were exercised


def test_send_all_delivers_in_order_and_reports_each_failure_in_its_place(mailbox, monkeypatch, rejected):
    import smtplib

    connects = []
    real_connect = smtplib.SMTP.connect

    def counted(self, *args, **kwargs):
        connects.append(args)
        return real_connect(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "connect", counted)
    messages = [dataclasses.replace(rejected, subject=f"message {i}") for i in range(5)]
    messages[2] = dataclasses.replace(messages[2], to=(), cc=())  # no recipient: the server cannot take it
    with Mailer() as mailer:
        outcomes = list(mailer.send_all(messages))
    assert [o is None for o in outcomes] == [True, True, False, True, True]
    assert isinstance(outcomes[2], NotificationError) and "rejected notification for building-permits" in str(
        outcomes[2])
    # The others all arrived, in order; after the failure, on a fresh connection.
    assert [m["Subject"] for m in mailbox.messages()] == ["message 0", "message 1", "message 3", "message 4"]
    assert len(connects) == 2


def test_send_all_with_nothing_to_send_opens_no_connection(mailbox, monkeypatch):
    import smtplib

    monkeypatch.setattr(smtplib.SMTP, "connect", lambda *a, **k: pytest.fail("connected"))
    with Mailer() as mailer:
        assert list(mailer.send_all([])) == []
