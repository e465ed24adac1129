"""One tracking page per complainant: the dispute's letters, the complaint's text, the contest from the page."""

import io
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Notification, OutboxMessage, TaskRow
from app.services.cases import lifecycle as cases
from app.services.messaging import messages
from tests.support.pages import ready_task, text, user
from tests.support.thread import answered_complaint, complaint_with_dispute

pytestmark = pytest.mark.usefixtures("rollup_checked")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def finish_dispute(dispute):
    for bpmn_id, who, data in (
            ("ut_analyse", "commercial", {"justified": "partly", "analysis": "Erreur partielle",
                                          "proposed_credit": 400.0}),
            ("ut_credit_note", "finance", {"credit_note_number": "AV-2026-0042", "credited_amount": 400.0}),
            ("ut_release", "finance", {"payment_released": "yes", "released_amount": 850.4}),
            ("ut_close", "gestionnaire", {"closing_comment": "Avoir émis."})):
        cases.complete_task(user(who), ready_task(dispute, bpmn_id).id, data)


def test_one_tracking_page_holds_the_dispute_letters_in_order(client, deployed):
    complaint, dispute = complaint_with_dispute()
    finish_dispute(dispute)
    # the dispute's letters point to the complaint's tracking page
    letters = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == dispute.id)).all()
    assert letters and all(f"/suivi/{complaint.tracking_token}" in m.body for m in letters)
    assert messages.tracking_url(dispute) == messages.tracking_url(complaint)
    page = text(client.get(f"/suivi/{complaint.tracking_token}"))
    assert f"Litige {dispute.reference}" in page  # the dispute's letters, labelled
    subjects = re.findall(r"Envoyé le \d\d/\d\d/\d{4}", page)
    assert len(subjects) >= 5
    closing = [m.template for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at,
                                                                                      OutboxMessage.id))
               if m.template in ("dispute_closed", "closure")]
    assert closing == ["dispute_closed", "closure"]  # the dispute's result first, then the complaint's closure
    # the dispute's own link opens the same thread
    assert text(client.get(f"/suivi/{dispute.tracking_token}")) == page


def test_tracking_shows_the_complaint_text_and_no_addition_once_closed(client, deployed):
    complaint, dispute = complaint_with_dispute()
    page = text(client.get(f"/suivi/{complaint.tracking_token}"))
    assert "Votre demande" in page and "Frais de livraison facturés deux fois." in page
    assert "Compléter votre dossier" in page
    finish_dispute(dispute)
    complaint = cases.get_case(complaint.reference)
    assert complaint.status == "closed" and not complaint.completed  # the survey still waits
    page = text(client.get(f"/suivi/{complaint.tracking_token}"))
    assert "Compléter votre dossier" not in page and "Ce dossier est clos" in page
    resp = client.post(f"/suivi/{complaint.tracking_token}/ajout", data={"text": "Encore"})
    assert resp.status_code == 409


def test_complainant_contests_the_answer_from_the_tracking_page(client, deployed):
    complaint = answered_complaint()
    token = complaint.tracking_token
    page = text(client.get(f"/suivi/{token}"))
    assert "Contester notre réponse" in page
    resp = client.post(f"/suivi/{token}/contester", data={"contest_text": " "})
    assert resp.status_code == 422 and "Expliquez en quelques mots ce que vous contestez." in text(resp)
    assert ready_task(complaint).bpmn_id == "ut_reaction"
    resp = client.post(f"/suivi/{token}/contester", data={
        "contest_text": "Les frais de port figurent deux fois sur la facture FA-2026-1182.",
        "contest_file": (io.BytesIO(PDF), "facture.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 303
    db.session.expire_all()
    complaint = cases.get_case(complaint.reference)
    task = ready_task(complaint)
    assert (task.bpmn_id, task.lane) == ("ut_contest", "gestionnaire")  # ut_reaction was replaced
    assert complaint.data["reaction"] == "contests" and complaint.data["contest_text"].startswith("Les frais")
    types = [e.type for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == complaint.id))]
    assert "complaint_contested" in types and "complainant_attachment" in types and "message_received" in types
    assert db.session.scalars(select(Notification).where(Notification.case_id == complaint.id,
                                                         Notification.group_name == "gestionnaire")).first()
    page = text(client.get(f"/suivi/{token}"))
    assert "Contester notre réponse" not in page  # once is enough: the step has moved on
    again = client.post(f"/suivi/{token}/contester", data={"contest_text": "Encore"})
    assert again.status_code == 409
    # staff see the text on the task page and decide: no payment blocked, the complaint is re-examined
    from tests.support.pages import login

    staff_page = text(login(client.application, "gestionnaire").get(f"/taches/{task.id}"))
    assert "Les frais de port figurent deux fois" in staff_page and "Contestation du réclamant" in staff_page
    cases.complete_task(user("gestionnaire"), task.id, {"payment_blocked": "no"})
    assert ready_task(cases.get_case(complaint.reference)).bpmn_id == "ut_analyse"
    assert db.session.scalars(select(TaskRow).where(TaskRow.case_id == complaint.id,
                                                    TaskRow.bpmn_id == "ut_reaction")).one().state == "cancelled"


def test_a_file_can_be_joined_at_intake(client, deployed):
    from app.models import Case

    data = {"kind": "complaint", "origin": "external_customer", "customer_name": "Martine Lefèvre",
            "customer_email": "martine@example.fr", "description": "Colis arrivé écrasé.", "website": "",
            "attachment": (io.BytesIO(PDF), "photo-colis.pdf")}
    resp = client.post("/reclamation", data=data, content_type="multipart/form-data")
    assert resp.status_code == 303, text(resp)
    case = db.session.scalars(select(Case)).one()
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                          AuditEvent.type == "complainant_attachment")).all()
    assert event.data["filename"] == "photo-colis.pdf" and event.data["at_intake"] is True
    page = text(client.get(f"/suivi/{case.tracking_token}"))
    assert "photo-colis.pdf" in page
    # a refused file refuses the whole submission: nothing is created
    bad = {**data, "customer_email": "autre@example.fr", "attachment": (io.BytesIO(b"MZ\x90"), "virus.exe")}
    resp = client.post("/reclamation", data=bad, content_type="multipart/form-data")
    assert resp.status_code == 422 and "Type de fichier non accepté" in text(resp)
    assert len(db.session.scalars(select(Case)).all()) == 1


def test_a_retried_contest_gets_the_first_answer_not_a_conflict(client, deployed):
    """The contest form carries an idempotency key: the same post sent again (lost response, double click) is
    answered like the first, once; a new post of the page is refused since the step has moved on."""
    complaint = answered_complaint()
    token = complaint.tracking_token
    page = client.get(f"/suivi/{token}").get_data(as_text=True)
    key = re.search(r'action="/suivi/[^"]+/contester".*?name="idempotency_key" value="([^"]+)"', page, re.S).group(1)
    post = {"contest_text": "La remise promise n'apparaît pas.", "idempotency_key": key}
    first = client.post(f"/suivi/{token}/contester", data=post)
    assert first.status_code == 303
    again = client.post(f"/suivi/{token}/contester", data=post)
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/suivi/{token}")
    shown = text(client.get(f"/suivi/{token}"))
    assert "déjà été enregistré" in shown
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == complaint.id,
                                                         AuditEvent.type == "complaint_contested")).all()
    assert len(events) == 1
    assert ready_task(cases.get_case(complaint.reference)).bpmn_id == "ut_contest"
    other = client.post(f"/suivi/{token}/contester", data={**post, "idempotency_key": "k" * 32})
    assert other.status_code == 409  # a different post: the answer can no longer be contested
