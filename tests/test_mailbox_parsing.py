"""Reading e-mails without a server: HTML to clean text, automatic replies, bounces, malformed MIME, IMAP_URL,
and the threading headers of the e-mails we send (signed Message-IDs, subject reference)."""

import pytest

from app.services.mailbox import imap, parsing
from app.services.messaging import conversation
from tests.support.mails import PDF, dsn, mail


def test_html_mail_becomes_clean_text_without_markup():
    text = parsing.html_to_text(
        "<html><head><title>Titre</title><style>p{color:red}</style></head><body><!-- commentaire -->"
        "<p>Bonjour&nbsp;<b>Madame</b> &amp; Monsieur,</p><script>alert('x')</script>"
        "<div>Ligne 1<br>Ligne 2</div><ul><li>un</li><li>deux</li></ul><img src=x onerror=alert(1)></body></html>")
    assert "Bonjour Madame & Monsieur," in text and "Ligne 1\nLigne 2" in text and "- un" in text
    for leftover in ("<", ">", "alert", "color", "Titre", "commentaire", "onerror"):
        assert leftover not in text


def test_a_plain_mail_is_read_with_its_sender_and_files():
    parsed = parsing.parse(mail(sender='"Dupont, Jean" <Jean.Dupont@Example.FR>', subject="Réclamation été",
                                files=[("devis.pdf", "application/pdf", PDF)]))
    assert (parsed.sender_name, parsed.sender_address) == ("Dupont, Jean", "jean.dupont@example.fr")
    assert parsed.subject == "Réclamation été" and parsed.text.startswith("Bonjour,")
    assert [(p.filename, p.content) for p in parsed.attachments] == [("devis.pdf", PDF)]
    assert parsed.problem is None and parsed.auto_reason is None and parsed.bounce is None
    assert parsing.dedupe_key(parsed) == parsing.dedupe_key(parsing.parse(mail(message_id=parsed.message_id)))


def test_without_message_id_the_key_is_the_hash_of_the_bytes():
    raw = mail(message_id=None)
    assert parsing.dedupe_key(parsing.parse(raw)) == parsing.dedupe_key(parsing.parse(raw))
    assert parsing.dedupe_key(parsing.parse(raw)) != parsing.dedupe_key(parsing.parse(raw + b"\r\n"))


@pytest.mark.parametrize("headers, sender, expected", [
    ({"Auto-Submitted": "auto-replied"}, "a@example.fr", "Auto-Submitted"),
    ({"Auto-Submitted": "no"}, "a@example.fr", None),
    ({"X-Autoreply": "yes"}, "a@example.fr", "X-Autoreply"),
    ({"Precedence": "junk"}, "a@example.fr", "Precedence"),
    ({"Precedence": "first-class"}, "a@example.fr", None),
    ({"List-Id": "<l.example.fr>"}, "a@example.fr", "List-Id"),
    ({}, "Mailer-Daemon@example.fr", "automatique"),
    ({}, "reclamations@example.org", "boucle"),
])
def test_automatic_messages_are_recognised(headers, sender, expected):
    parsed = parsing.parse(mail(sender=sender, headers=headers), own_address="reclamations@example.org")
    if expected is None:
        assert parsed.auto_reason is None
    else:
        assert expected in parsed.auto_reason


def test_a_delivery_report_names_the_original_message():
    parsed = parsing.parse(dsn("<outbox-7-3.0123456789abcdef@example.org>"))
    assert parsed.bounce.original_message_id == "<outbox-7-3.0123456789abcdef@example.org>"
    assert (parsed.bounce.recipient, parsed.bounce.status) == ("jean.dupont@example.fr", "5.1.1")
    assert parsing.parse(dsn("<x@y>", action="delayed")).bounce is None


@pytest.mark.parametrize("raw", [
    b"From: a@example.fr\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all",
    b"From: a@example.fr\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\nthe boundary never starts",
    b"Subject: no sender\r\n\r\nbody",
])
def test_malformed_messages_name_their_problem(raw):
    assert parsing.parse(raw).problem


def test_imap_urls():
    config = imap.parse_imap_url("imaps://robot%40corp:s%3Acret@mail.corp.fr/Bo%C3%AEte")
    assert (config.host, config.port, config.username, config.password, config.folder, config.ssl) == (
        "mail.corp.fr", 993, "robot@corp", "s:cret", "Boîte", True)
    plain = imap.parse_imap_url("imap://u:p@mail.corp.fr:1143?starttls=1&cafile=/etc/ssl/corp-ca.pem")
    assert (plain.port, plain.folder, plain.ssl, plain.starttls, plain.cafile) == (
        1143, "INBOX", False, True, "/etc/ssl/corp-ca.pem")
    with pytest.raises(ValueError, match="IMAP_URL"):
        imap.parse_imap_url("pop3://u:p@mail.corp.fr")


def test_outgoing_message_ids_are_signed_and_subjects_carry_the_reference(ctx):
    from app.models import OutboxMessage

    message = OutboxMessage(id=12, case_id=5)
    mid = conversation.message_id(message)
    assert conversation.outbox_ref(mid) == (12, 5) and conversation.message_id(message) == mid  # stable
    assert conversation.outbox_ref(mid.replace("outbox-12-5", "outbox-13-5")) is None  # forged for another row
    assert conversation.outbox_ref("<outbox-12-5@example.org>") is None
    assert conversation.email_subject("Accusé de réception REC-2026-000001", "REC-2026-000001") == \
        "Accusé de réception [REC-2026-000001]"
    assert conversation.email_subject("Bonjour", "REC-2026-000001") == "Bonjour [REC-2026-000001]"
    assert conversation.email_subject("Re: [REC-2026-000001] x", "REC-2026-000001") == "Re: [REC-2026-000001] x"


def test_a_sender_the_intake_form_refuses_is_quarantined_with_the_field_label(ctx, deployed):
    from app.services.mailbox.intake import ingest

    outcome = ingest(mail(sender="Jean <jean@localhost>"))
    assert outcome.status == "quarantined"
    assert outcome.reason.startswith("Données refusées : E-mail du réclamant :")
    assert "customer_email" not in outcome.reason
