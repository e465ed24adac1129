"""The outbox sender against a real local SMTP server (aiosmtpd): delivery, outage and retry, letters, races."""

import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import AuditEvent, OutboxMessage
from app.services.core.errors import Conflict, Forbidden
from app.services.messaging import outbox
from app.services.people.users import by_username
from tests.support.flows import complaint_data, start
from tests.support.mail import Sink, free_port, start_sink


@pytest.fixture
def smtp(app):
    """A real SMTP server on a free port, configured as SMTP_URL; stopped at the end."""
    sink, controller, port = start_sink()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}?timeout=5"
    yield sink, controller, port
    controller.stop()


def outbox_rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def events(type_: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.id)))


def test_smtp_url_parsing():
    config = outbox.parse_smtp_url("smtp://robot%40corp:s%3Acret@mail.corp.fr:587?starttls=1")
    assert (config.host, config.port, config.username, config.password, config.starttls, config.ssl) == (
        "mail.corp.fr", 587, "robot@corp", "s:cret", True, False)
    assert outbox.parse_smtp_url("smtps://mail.corp.fr").port == 465
    assert outbox.parse_smtp_url("smtp://localhost").port == 25
    with pytest.raises(ValueError, match="SMTP_URL"):
        outbox.parse_smtp_url("http://mail.corp.fr")


def test_backoff_is_exponential_and_capped():
    assert [outbox.backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=1), timedelta(minutes=2),
                                                      timedelta(minutes=4)]
    assert outbox.backoff(30) == timedelta(hours=6)


def test_email_sent_once_with_proof_in_the_audit_log(deployed, api, smtp):
    sink, _controller, _port = smtp
    ref = start(api, **complaint_data())["reference"]
    [message] = outbox_rows()
    assert message.status == "pending" and message.template == "acknowledgment"
    report = outbox.send_pending()
    assert report.sent == [message.id] and report.failed == []
    assert len(sink.messages) == 1
    rcpt, mail = sink.messages[0]
    assert rcpt == ["martine@example.fr"] and ref in mail["Subject"]
    assert mail["Message-ID"] == outbox.message_id(message)
    [message] = outbox_rows()
    assert (message.status, message.channel, message.attempts, message.sent_at) == ("sent", "email", 1, clock.now())
    [proof] = events("message_delivered")
    assert proof.case_reference == ref and proof.data["channel"] == "email"
    assert proof.data["at"] == clock.now().isoformat() and proof.data["outbox_id"] == message.id
    assert outbox.send_pending().sent == []  # nothing twice
    assert len(sink.messages) == 1


def test_smtp_outage_keeps_the_failure_then_sends_once(deployed, api, app):
    port = free_port()  # nothing listens there yet: the server is down
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}?timeout=2"
    start(api, **complaint_data())
    [message] = outbox_rows()
    report = outbox.send_pending()
    assert report.failed == [message.id]
    [message] = outbox_rows()
    assert message.status == "pending" and message.attempts == 1 and message.sent_at is None
    assert "ConnectionRefusedError" in message.last_error
    assert message.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert outbox.send_pending().failed == []  # not due again yet
    clock.advance(minutes=1)
    assert outbox.send_pending().failed == [message.id]
    [message] = outbox_rows()
    assert message.attempts == 2 and message.next_attempt_at == clock.now() + timedelta(minutes=2)
    assert [e.data["attempt"] for e in events("message_delivery_failed")] == [1, 2]

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert outbox.send_pending().sent == []  # the server is back, but the retry is not due yet
        clock.advance(minutes=2)
        assert outbox.send_pending().sent == [message.id]
        assert outbox.send_pending().sent == []
        clock.advance(hours=1)
        assert outbox.send_pending().sent == []
    finally:
        controller.stop()
    assert len(sink.messages) == 1
    [message] = outbox_rows()
    assert message.status == "sent" and message.attempts == 3 and message.last_error is not None
    assert len(events("message_delivered")) == 1


def test_gives_up_after_max_attempts(deployed, api, app):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=2"
    start(api, **complaint_data())
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.send_pending()
        clock.advance(hours=7)
    [message] = outbox_rows()
    assert message.status == "failed" and message.attempts == outbox.MAX_ATTEMPTS
    assert message.next_attempt_at is None
    assert outbox.send_pending().failed == []


def test_without_smtp_emails_wait_and_letters_go_to_print(deployed, api, app):
    app.config["SMTP_URL"] = None
    start(api, **complaint_data())
    ref = start(api, **complaint_data(customer_email=None, customer_address="3 rue des Lilas, Lyon"))["reference"]
    report = outbox.send_pending()
    assert report.sent == [] and len(report.to_print) == 1
    email, letter = outbox_rows()
    assert email.status == "pending" and letter.status == "to_print" and letter.channel == "letter"
    assert [(m.id, r) for m, r in outbox.letters_to_print()] == [(letter.id, ref)]
    assert events("message_delivered") == []

    with pytest.raises(Forbidden):
        outbox.mark_posted(by_username("auditeur"), letter.id)
    clock.advance(hours=2)
    outbox.mark_posted(by_username("accueil"), letter.id)
    [proof] = events("message_delivered")
    assert proof.data["channel"] == "letter" and proof.actor == "accueil"
    assert proof.data["at"] == clock.now().isoformat()
    assert outbox.letters_to_print() == []
    with pytest.raises(Conflict):
        outbox.mark_posted(by_username("gestionnaire"), letter.id)


def test_two_senders_racing_send_each_message_once(deployed, api, app, smtp):
    sink, _controller, _port = smtp
    for n in range(12):
        start(api, **complaint_data(customer_name=f"Client {n}", customer_email=f"c{n}@example.fr"))
    db.session.remove()
    barrier = threading.Barrier(3)
    reports, errors = [], []

    def sender():
        try:
            with app.app_context():
                barrier.wait()
                reports.append(outbox.send_pending())
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    sent = [i for r in reports for i in r.sent]
    assert len(sent) == 12 and len(set(sent)) == 12
    assert sorted(r[0][0] for r in sink.messages) == sorted(f"c{n}@example.fr" for n in range(12))
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.type == "message_delivered")) == 12


def test_a_sender_that_died_after_claiming_is_taken_over_later(deployed, api, smtp):
    sink, _controller, _port = smtp
    start(api, **complaint_data())
    [message] = outbox_rows()
    assert outbox._claim(message.id, clock.now())  # a sender claimed it, then its process died
    assert outbox.send_pending().sent == []  # another sender leaves it alone while the claim is fresh
    clock.advance(minutes=11)
    assert outbox.send_pending().sent == [message.id]
    assert len(sink.messages) == 1 and sink.messages[0][1]["Message-ID"] == outbox.message_id(message)


def test_a_poisoned_message_first_in_the_queue_is_marked_failed_and_the_pass_goes_on(deployed, api, smtp,
                                                                                     monkeypatch):
    sink, _controller, _port = smtp
    for index in range(3):
        start(api, **complaint_data(customer_email=f"client{index}@example.fr"))
    poisoned, *others = outbox_rows()
    real_deliver = outbox._deliver

    def deliver(config, sender, recipients, subject, body, message_id, *headers, **parts):
        if message_id == outbox.message_id(poisoned):  # what a header with a line feed used to raise
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        return real_deliver(config, sender, recipients, subject, body, message_id, *headers, **parts)

    monkeypatch.setattr(outbox, "_deliver", deliver)
    report = outbox.send_pending()
    assert report.failed == [poisoned.id] and report.sent == [m.id for m in others]
    rows = {m.id: m for m in outbox_rows()}
    assert rows[poisoned.id].status == "failed" and "linefeed" in rows[poisoned.id].last_error
    assert rows[poisoned.id].next_attempt_at is None  # not retried: only SMTP failures are
    assert all(rows[m.id].status == "sent" for m in others)
    assert sorted(r[0][0] for r in sink.messages) == ["client1@example.fr", "client2@example.fr"]
    [failure] = events("message_delivery_failed")
    assert failure.data["outbox_id"] == poisoned.id and "linefeed" in failure.data["error"]
    assert outbox.send_pending().failed == []
