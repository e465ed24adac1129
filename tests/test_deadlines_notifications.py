"""Reminders and escalations reach staff: in the app (counter, list, read) and by e-mail; letters to print page."""

import re

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Notification, OutboxMessage
from app.services.cases.lifecycle import fire_due_timers
from app.services.messaging import outbox
from app.services.people.users import by_username
from tests.support.auth import login
from tests.support.flows import case, complaint_data, do, ready, start
from tests.support.mail import Sink, free_port

QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"}


def badge(html: str) -> int:
    found = re.search(r'aria-label="Notifications : (\d+) non lue', html)
    assert found, "no notification counter in the top bar"
    return int(found.group(1))


def escalated_case(api) -> str:
    """A written complaint qualified, its analysis claimed by `service`, then 16 days later."""
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    task = ready(api, ref, "ut_analyse")
    assert api.post("service", f"/api/tasks/{task['id']}/claim").status_code == 200
    clock.advance(days=13)  # 6 December 09:00: the reminder (3 days before 8 December) is due
    assert fire_due_timers() == [ref]
    clock.advance(days=3)  # past the due date: escalation
    assert fire_due_timers() == [ref]
    return ref


def test_reminder_to_the_holder_and_escalation_to_responsable(deployed, api, client):
    ref = escalated_case(api)
    rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(n.kind, n.username, n.group_name) for n in rows] == [
        ("reminder", "service", None), ("escalation", None, "responsable")]
    assert rows[0].text.startswith(f"Réponse attendue le 08/12/2026 pour le dossier {ref} (Martine Lefèvre)")
    assert rows[0].link == f"/dossiers/{ref}"
    assert rows[1].text == f"Délai de réponse dépassé : dossier {ref} (Martine Lefèvre)"
    assert {t["bpmn_id"] for t in case(api, ref)["tasks"]} == {"ut_analyse", "ut_overdue"}

    login(client, "responsable")
    page = client.get("/notifications/").get_data(as_text=True)
    assert badge(page) == 1 and "Délai de réponse dépassé" in page and "Réponse attendue" not in page
    login(client, "gestionnaire")
    assert badge(client.get("/notifications/").get_data(as_text=True)) == 0
    login(client, "service")
    page = client.get("/notifications/").get_data(as_text=True)
    assert badge(page) == 1 and "Réponse attendue le 08/12/2026" in page
    resp = client.post(f"/notifications/{rows[0].id}/lue")
    assert resp.status_code == 302
    assert badge(client.get("/notifications/").get_data(as_text=True)) == 0
    assert client.post(f"/notifications/{rows[1].id}/lue").status_code == 404  # not service's to read
    login(client, "auditeur")
    assert client.post("/notifications/toutes-lues").status_code == 403


def test_escalation_then_holding_letter_end_to_end(deployed, api):
    ref = escalated_case(api)
    do(api, ref, "ut_overdue", "responsable", {"overdue_action": "holding_letter",
                                               "expected_answer_on": "2026-12-20"})
    letters = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "holding_letter")).all()
    assert len(letters) == 1 and "20 décembre 2026" in letters[0].body
    from app.models import Case, CaseClock

    case_id = db.session.scalar(select(Case.id).where(Case.reference == ref))
    clocks = {c.name: c for c in db.session.scalars(select(CaseClock).where(CaseClock.case_id == case_id))}
    assert clocks["holding_letter"].outcome == "met"  # sent within 2 working days of the due date
    assert clocks["answer"].stopped_at is None and clocks["answer"].state(clock.now()) == "overdue"
    do(api, ref, "ut_analyse", "service", {"facts": "Erreur confirmée", "systemic": "no", "needs_information": "no"})
    do(api, ref, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Remboursé."})
    db.session.expire_all()
    assert clocks["answer"].outcome == "breached"
    assert fire_due_timers() == []


def test_notifications_are_emailed_once_when_smtp_is_configured(deployed, api, app):
    user = by_username("responsable")
    user.email = "chef@example.fr"
    db.session.commit()
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        escalated_case(api)
        report = outbox.send_pending()
        assert report.notifications == 1  # service has no address: only the escalation goes out
        assert outbox.send_pending().notifications == 0
    finally:
        controller.stop()
    mails = [m for rcpt, m in sink.messages if rcpt == ["chef@example.fr"]]
    assert len(mails) == 1 and "Délai de réponse dépassé" in mails[0]["Subject"]


@pytest.mark.parametrize("user, status", [("accueil", 200), ("auditeur", 200), ("service", 403)])
def test_letters_page_access(deployed, api, client, user, status):
    login(client, user)
    assert client.get("/courriers/").status_code == status


def test_letters_page_lists_and_records_posting(deployed, api, client, app):
    app.config["SMTP_URL"] = None
    ref = start(api, **complaint_data(customer_email=None, customer_address="3 rue des Lilas, Lyon"))["reference"]
    outbox.send_pending()
    [letter] = db.session.scalars(select(OutboxMessage)).all()
    login(client, "accueil")
    page = client.get("/courriers/").get_data(as_text=True)
    assert ref in page and "Marquer comme posté" in page
    assert ref in client.get(f"/courriers/{letter.id}").get_data(as_text=True)
    login(client, "auditeur")
    assert client.post(f"/courriers/{letter.id}/poste").status_code == 403
    login(client, "accueil")
    assert client.post(f"/courriers/{letter.id}/poste").status_code == 302
    db.session.expire_all()
    assert letter.status == "sent" and letter.sent_by == "accueil"
    assert ref not in client.get("/courriers/").get_data(as_text=True)


def test_complainant_answer_on_the_tracking_page_notifies_the_holder(deployed, api, client):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    do(api, ref, "ut_analyse", "service", {"facts": "x", "systemic": "no", "needs_information": "yes",
                                           "information_request": "Copie de la facture"})
    task = ready(api, ref, "ut_await_info")
    assert api.post("service", f"/api/tasks/{task['id']}/claim").status_code == 200
    from app.models import Case

    token = db.session.scalar(select(Case.tracking_token).where(Case.reference == ref))
    assert client.post(f"/suivi/{token}/ajout", data={"text": "Voici la facture."}).status_code == 303
    [note] = db.session.scalars(select(Notification)).all()
    assert (note.username, note.kind) == ("service", "info")
    assert note.text.startswith(f"Le réclamant a ajouté une information au dossier {ref}")


def test_case_page_shows_the_clocks(deployed, api, client):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    do(api, ref, "ut_analyse", "service", {"facts": "x", "systemic": "no", "needs_information": "yes"})
    login(client, "gestionnaire")
    page = client.get(f"/dossiers/{ref}").get_data(as_text=True)
    assert "Délais" in page and "Accusé de réception" in page and "2 jours ouvrés" in page
    assert "15 jours calendaires" in page and "suspendu (attente du réclamant)" in page
    clock.advance(days=3)
    do(api, ref, "ut_await_info", "service", {"information_received": "Facture reçue"})
    page = client.get(f"/dossiers/{ref}").get_data(as_text=True)
    assert "(+3.0 j de suspension)" in page and "en cours" in page
