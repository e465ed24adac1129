"""The reply composer: who may write, a template previewed then sent through a real SMTP sink, the previewed
text is the sent text, staff HTML sanitised, drafts out of the outbox, letters as PDF, the public page."""

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, OutboxMessage, ReplyDraft
from app.services.cases import notes
from app.services.messaging import outbox
from app.services.messaging.conversation import email_subject
from app.services.people.users import by_username
from tests.support.flows import complaint_data, start
from tests.support.mail import SmtpSink, pdf_text


def login(client, username):
    client.post("/logout")
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302


def events(type_):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.id)))


def digest_of(html: str) -> str:
    return re.search(r'name="previewed" value="([0-9a-f]{64})"', html).group(1)


@pytest.fixture
def ref(deployed, api):
    return start(api, **complaint_data(customer_address="3 rue des Lilas\n69003 Lyon"))["reference"]


@pytest.mark.parametrize(("user", "allowed"), [
    ("gestionnaire", True),  # the group of the open task (qualification)
    ("responsable", True), ("admin", True), ("service", False), ("auditeur", False), ("finance", False)])
def test_who_may_write_to_the_complainant(ref, client, user, allowed):
    login(client, user)
    assert client.get(f"/dossiers/{ref}/reponse").status_code == (200 if allowed else 403)
    page = client.get(f"/dossiers/{ref}").get_data(as_text=True)
    assert ("Rédiger une réponse" in page) is allowed


def test_template_reply_previewed_then_sent_through_smtp(ref, client, app):
    notes.add_attachment(by_username("gestionnaire"), ref, "constat.pdf", b"%PDF-1.4 constat")
    login(client, "gestionnaire")
    loaded = client.get(f"/dossiers/{ref}/reponse?modele=holding_letter&canal=email").get_data(as_text=True)
    assert f"Votre réclamation {ref} : réponse en cours" in loaded and "Bonjour Martine Lefèvre," in loaded
    [file_id] = [int(i) for i in re.findall(r'name="attachments" value="(\d+)"', loaded)]
    form = {"channel": "email", "template_key": "holding_letter", "attachments": [str(file_id)],
            "subject": f"Votre réclamation {ref} : réponse en cours",
            "body": "Bonjour Martine Lefèvre,\n\nNous examinons encore la **facture** FA-2026-1182.\n\nCordialement"}
    preview = client.post(f"/dossiers/{ref}/reponse", data={**form, "action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Aperçu : ce qui sera envoyé" in html and "martine@example.fr" in html
    assert "<p>Nous examinons encore la **facture** FA-2026-1182.</p>" in html
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "reply")).first() is None

    changed = client.post(f"/dossiers/{ref}/reponse", data={**form, "body": form["body"] + " !", "action": "send",
                                                            "previewed": digest_of(html)})
    assert changed.status_code == 422 and "Le texte a changé depuis l&#39;aperçu" in changed.get_data(as_text=True)
    sent = client.post(f"/dossiers/{ref}/reponse", data={**form, "action": "send", "previewed": digest_of(html)})
    assert sent.status_code == 302
    db.session.expire_all()
    [reply] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "reply"))
    assert reply.channel == "email" and reply.recipient == "martine@example.fr" and reply.attachment_ids == [file_id]
    [event] = events("reply_sent")
    assert event.actor == "gestionnaire" and event.data["outbox_id"] == reply.id
    assert event.data["template"] == "holding_letter" and event.data["template_version_id"] == reply.template_version_id

    with SmtpSink(app) as sink:
        report = outbox.send_pending()
    assert reply.id in report.sent
    [mail] = [m for rcpt, m in sink.messages if m["Subject"] == email_subject(form["subject"], ref)]  # [REC-…]
    assert mail["To"] == "martine@example.fr" and mail["Message-ID"] == outbox.message_id(reply)
    assert "Nous examinons encore la **facture** FA-2026-1182." in mail.get_body(("plain",)).get_content()
    assert "<p>Cordialement</p>" in mail.get_body(("html",)).get_content()
    files = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert files["constat.pdf"] == b"%PDF-1.4 constat"
    letter_pdf = files[f"courrier-{ref}-{reply.id}.pdf"]  # a letter template: the e-mail carries the letter
    assert "Nous examinons encore la **facture**" in pdf_text(letter_pdf)
    db.session.expire_all()
    [proof] = [e for e in events("message_delivered") if e.data["outbox_id"] == reply.id]
    assert proof.data["pdf_sha256"] == db.session.get(OutboxMessage, reply.id).pdf_sha256

    client.post("/logout")  # the complainant's tracking page shows the reply among our messages
    tracking = client.get(f"/suivi/{_token(reply.case_id)}").get_data(as_text=True)
    assert form["subject"] in tracking and "Nous examinons encore" in tracking


def _token(case_id):
    from app.models import Case

    return db.session.get(Case, case_id).tracking_token


def test_staff_html_is_sanitised_never_raw(ref, client):
    login(client, "responsable")
    body = ('<p>Bonjour <strong>Martine</strong>, <em>merci</em>.</p><ul><li>un</li><li>deux</li></ul>'
            '<script>alert(1)</script><a href="javascript:alert(2)">lien</a><img src=x onerror="alert(3)">'
            '<p style="color:red" onclick="x()">fin</p>')
    form = {"channel": "letter", "subject": "Votre dossier", "body": body}
    html = client.post(f"/dossiers/{ref}/reponse", data={**form, "action": "preview"}).get_data(as_text=True)
    assert client.post(f"/dossiers/{ref}/reponse", data={**form, "action": "send",
                                                         "previewed": digest_of(html)}).status_code == 302
    db.session.expire_all()
    [reply] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "reply"))
    assert reply.body_html == ("<p>Bonjour <strong>Martine</strong>, <em>merci</em>.</p><ul><li>un</li>"
                               "<li>deux</li></ul>lien<p>fin</p>")
    assert "script" not in reply.body_html and "alert" not in reply.body_html
    assert reply.body.startswith("Bonjour Martine, merci.\n\n- un\n- deux")
    outbox.send_pending()
    db.session.expire_all()
    reply = db.session.get(OutboxMessage, reply.id)
    assert reply.status == "to_print" and reply.pdf_attachment_id
    text = " ".join(pdf_text(outbox.letter_pdf(by_username("accueil"), reply.id)[0]).split())
    assert "Bonjour Martine, merci." in text and "Objet : Votre dossier" in text and "alert" not in text


def test_drafts_stay_out_of_the_outbox_and_go_when_sent(ref, client):
    login(client, "gestionnaire")
    form = {"channel": "email", "subject": "Brouillon", "body": "À compléter"}
    saved = client.post(f"/dossiers/{ref}/reponse", data={**form, "action": "draft"})
    assert saved.status_code == 302
    [draft] = db.session.scalars(select(ReplyDraft))
    assert (draft.author, draft.subject, draft.body) == ("gestionnaire", "Brouillon", "À compléter")
    assert [e.data["draft_id"] for e in events("reply_draft_saved")] == [draft.id]
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "reply")).first() is None
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "À compléter" in page and f'name="draft_id" value="{draft.id}"' in page
    login(client, "responsable")  # a draft is its author's own
    assert client.get(f"/dossiers/{ref}/reponse?brouillon={draft.id}").status_code == 404
    login(client, "gestionnaire")
    form = {**form, "draft_id": str(draft.id), "body": "Réponse complète."}
    html = client.post(f"/dossiers/{ref}/reponse", data={**form, "action": "preview"}).get_data(as_text=True)
    client.post(f"/dossiers/{ref}/reponse", data={**form, "action": "send", "previewed": digest_of(html)})
    db.session.expire_all()
    assert db.session.scalars(select(ReplyDraft)).first() is None


def test_bad_input_is_refused_in_french_and_changes_nothing(deployed, api, client):
    ref = start(api, **complaint_data(customer_email=None, customer_address="3 rue des Lilas"))["reference"]
    login(client, "gestionnaire")
    resp = client.post(f"/dossiers/{ref}/reponse", data={"channel": "email", "subject": "", "body": " ",
                                                         "attachments": ["999"], "action": "send"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for message in ("pas d&#39;adresse e-mail valide", "L&#39;objet est obligatoire", "Le texte de la réponse est vide",
                    "Pièce jointe inconnue"):
        assert message in html
    assert events("reply_sent") == [] and events("reply_draft_saved") == []


def test_letter_preview_is_the_pdf(ref, client):
    login(client, "gestionnaire")
    resp = client.post(f"/dossiers/{ref}/reponse", data={
        "channel": "registered_letter", "subject": "Mise en demeure", "body": "Texte du courrier.",
        "action": "preview_pdf"})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = " ".join(pdf_text(resp.data).split())
    assert "Objet : Mise en demeure" in text and "3 rue des Lilas" in text and "LETTRE RECOMMANDÉE" in text
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "reply")).first() is None
