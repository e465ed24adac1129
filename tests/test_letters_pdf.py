"""Letters as PDF: a response letter read back with pdftotext, kept as a case attachment with its hash audited;
registered letters record their tracking number; the letters page serves the PDF."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, AuditEvent, OutboxMessage
from app.services.core.errors import Invalid
from app.services.messaging import outbox
from app.services.people.users import by_username
from tests.support.flows import complaint_data, do, start
from tests.support.mail import pdf_text

NAV_LABELS = ("Tâches", "Indicateurs", "Se déconnecter", "Courriers", "Processus")


@pytest.fixture
def app_config():
    return {"LETTER_SENDER_NAME": "Eaux de Seine — Relations clients",
            "LETTER_SENDER_ADDRESS": "12 quai de la Rapée | 75012 Paris",
            "LETTER_SIGNATURE": "Claire Martin | Responsable Relations clients",
            "MEDIATOR_TEXT": "le Médiateur de l'eau (BP 40463, 75366 Paris Cedex 08, www.mediation-eau.fr)"}


def decided(api, decision="partly", compensation=625.2, **data) -> str:
    ref = start(api, **complaint_data(customer_email=None, customer_address="3 rue des Lilas\n69003 Lyon",
                                      **data))["reference"]
    do(api, ref, "ut_qualify", "gestionnaire",
       {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"})
    do(api, ref, "ut_analyse", "service", {"facts": "Double facturation confirmée.", "systemic": "no",
                                           "needs_information": "no"})
    do(api, ref, "ut_decide", "gestionnaire", {"decision": decision, "compensation": compensation,
                                               "response_text": "Nous avons corrigé votre facture."})
    return ref


def letter(template: str) -> OutboxMessage:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)).one()


def test_response_letter_pdf_reads_as_a_french_letter(deployed, api):
    ref = decided(api)
    report = outbox.send_pending()
    response = letter("response")
    assert response.id in report.to_print and response.status == "to_print"
    kept = db.session.get(Attachment, response.pdf_attachment_id)
    assert kept.case_id == response.case_id and kept.content_type == "application/pdf"
    pdf = outbox.letter_pdf(by_username("accueil"), response.id)[0]
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == kept.sha256 == response.pdf_sha256
    text = pdf_text(pdf)
    assert "Paris, le 23 novembre 2026" in text
    assert "625,20 €" in text
    assert "Martine Lefèvre" in text and "3 rue des Lilas" in text and "69003 Lyon" in text
    assert "Eaux de Seine — Relations clients" in text and "75012 Paris" in text
    assert f"Référence : {ref}" in text and f"Objet : Réponse à votre réclamation {ref}" in text
    assert "Claire Martin" in text and "Médiateur de l'eau" in text  # partial acceptance: the recourse
    assert not [label for label in NAV_LABELS if label in text]
    if os.environ.get("CORRESPONDENCE_SCREENSHOTS"):  # the README's picture of a letter (docs/screenshots)
        target = Path(os.environ["CORRESPONDENCE_SCREENSHOTS"]) / "letter-pdf"
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", "-", str(target)], input=pdf, check=True,
                       timeout=60)
    [event] = [e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.type == "message_to_print"))
               if e.data["outbox_id"] == response.id]
    assert event.data["pdf_sha256"] == kept.sha256 and event.data["pdf_attachment_id"] == kept.id


def test_accepted_complaint_letter_names_no_mediator(deployed, api):
    decided(api, decision="accepted", compensation=None)
    outbox.send_pending()
    response = letter("response")
    text = pdf_text(outbox.letter_pdf(by_username("accueil"), response.id)[0])
    assert "Médiateur" not in text and "Un geste commercial" not in text


def test_registered_letter_records_its_tracking_number(deployed, api):
    decided(api)
    response = letter("response")
    response.channel = "registered_letter"
    db.session.commit()
    outbox.send_pending()
    accueil = by_username("accueil")
    text = " ".join(pdf_text(outbox.letter_pdf(accueil, response.id)[0]).split())
    assert "LETTRE RECOMMANDÉE AVEC ACCUSÉ DE RÉCEPTION" in text
    with pytest.raises(Invalid) as missing:
        outbox.mark_posted(accueil, response.id)
    assert "numéro de suivi" in missing.value.errors["tracking_number"]
    with pytest.raises(Invalid):
        outbox.mark_posted(accueil, response.id, "12#4")
    assert letter("response").status == "to_print"  # refused: nothing changed
    outbox.mark_posted(accueil, response.id, "1a 123 456 7890 1")
    posted = letter("response")
    assert posted.status == "sent" and posted.tracking_number == "1A12345678901"
    [proof] = [e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.type == "message_delivered"))
               if e.data["outbox_id"] == response.id]
    assert proof.data["channel"] == "registered_letter" and proof.data["tracking_number"] == "1A12345678901"
    assert proof.data["pdf_sha256"] == posted.pdf_sha256


def test_letters_page_serves_the_kept_pdf(deployed, api, client):
    decided(api)
    outbox.send_pending()
    response = letter("response")
    client.post("/login", data={"username": "accueil", "password": "demo"})
    page = client.get("/courriers/")
    assert f"/courriers/{response.id}.pdf" in page.get_data(as_text=True)
    resp = client.get(f"/courriers/{response.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert hashlib.sha256(resp.data).hexdigest() == response.pdf_sha256
    client.post("/logout")
    client.post("/login", data={"username": "service", "password": "demo"})
    assert client.get(f"/courriers/{response.id}.pdf").status_code == 403


def test_credit_note_letter_in_french_with_recourse_when_partly_justified(deployed, api):
    from app.models import Case
    from app.services.messaging import messages

    ref = start(api, **complaint_data())["reference"]
    case = db.session.scalars(select(Case).where(Case.reference == ref)).one()
    data = {**case.data, "credit_note_number": "AV-2026-0042", "credited_amount": 1250.4, "justified": "partly"}
    subject, body = messages.render("dispute_closed", case, data)
    assert subject == f"Clôture du litige {ref}"
    assert "Un avoir n° AV-2026-0042 de 1\u202f250,40\u00a0€ a été établi." in body
    assert "Médiateur de l'eau" in body
    _subject, justified = messages.render("dispute_closed", case, {**data, "justified": "justified"})
    assert "Médiateur" not in justified


def test_a_kept_pdf_is_served_as_kept_or_not_at_all(deployed, api, app):
    from app.services.core.errors import NotFound

    decided(api)
    response = letter("response")
    accueil = by_username("accueil")
    before = outbox.letter_pdf(accueil, response.id)[0]  # not made yet: a fresh rendering, nothing kept
    assert before.startswith(b"%PDF") and letter("response").pdf_attachment_id is None
    outbox.send_pending()
    kept = db.session.get(Attachment, letter("response").pdf_attachment_id)
    (Path(app.config["ATTACHMENT_DIR"]) / kept.stored_name).unlink()
    with pytest.raises(NotFound, match="introuvable"):
        outbox.letter_pdf(accueil, response.id)


def test_a_step_sends_by_registered_letter_when_the_bpmn_says_so(deployed, api):
    from app.engine import DefinitionError
    from app.services.core import definitions
    from tests.support.setup import TEST_BPMN

    xml = (TEST_BPMN / "registered_letter.bpmn").read_text(encoding="utf-8")
    definitions.deploy_xml(xml, "test", "registered_letter.bpmn")
    db.session.commit()
    start(api, process="registered_test", user="gestionnaire", customer_name="Paul Roux",
          customer_email="paul@example.fr", customer_address="8 avenue Foch\n75016 Paris")
    start(api, process="registered_test", user="gestionnaire", customer_name="Léa Petit",
          customer_email="lea@example.fr")  # no postal address: e-mail after all
    registered, fallback = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    assert (registered.channel, registered.recipient, registered.postal_address) == (
        "registered_letter", "8 avenue Foch\n75016 Paris", "8 avenue Foch\n75016 Paris")
    assert (fallback.channel, fallback.recipient) == ("email", "lea@example.fr")
    assert "Médiateur de l'eau" in registered.body  # a rejection names the recourse
    assert [m for m, _ref in outbox.letters_to_print()] == []
    outbox.send_pending()
    assert [m.id for m, _ref in outbox.letters_to_print()] == [registered.id]
    with pytest.raises(DefinitionError) as refused:
        definitions.deploy_xml(xml.replace('value="registered_letter"', 'value="pigeon"'), "test", "bad.bpmn")
    assert "propriété « channel » inconnue : « pigeon »" in str(refused.value.problems)
