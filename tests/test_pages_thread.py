"""One thread per complainant (staff side) and the manual escalation of a dispute."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Notification
from tests.support.pages import login, ready_task, text
from tests.support.thread import complaint_with_dispute

pytestmark = pytest.mark.usefixtures("rollup_checked")


def test_complaint_and_dispute_link_each_other_on_case_task_and_timeline(app, deployed):
    complaint, dispute = complaint_with_dispute()
    g = login(app, "admin")
    page = g.get(f"/dossiers/{complaint.reference}").get_data(as_text=True)
    assert f'href="/dossiers/{dispute.reference}"' in page and "Litige ouvert par ce dossier" in page
    assert page.count(f'href="/dossiers/{dispute.reference}"') >= 2  # the thread card and the timeline
    page = g.get(f"/dossiers/{dispute.reference}").get_data(as_text=True)
    assert f'href="/dossiers/{complaint.reference}"' in page and "Réclamation d’origine" in page
    task = ready_task(dispute, "ut_analyse")
    page = login(app, "commercial").get(f"/taches/{task.id}").get_data(as_text=True)
    assert f'href="/dossiers/{complaint.reference}"' in page and "Dossiers liés" in page


def test_escalate_a_dispute_with_a_reason(app, deployed):
    _complaint, dispute = complaint_with_dispute()
    c = login(app, "commercial")
    task = ready_task(dispute, "ut_analyse")
    page = text(c.get(f"/taches/{task.id}"))
    assert "Escalader" in page and "Motif de l’escalade" in page
    # no reason: refused, nothing changes
    resp = c.post(f"/dossiers/{dispute.reference}/escalader", data={"reason": "  "}, follow_redirects=True)
    assert "Indiquez le motif de l'escalade." in text(resp)
    assert ready_task(dispute).bpmn_id == "ut_analyse"  # the only ready step
    resp = c.post(f"/dossiers/{dispute.reference}/escalader",
                  data={"reason": "Client injoignable, montant important."})
    assert resp.status_code == 302
    db.session.expire_all()
    arbitrate = ready_task(dispute, "ut_arbitrate")
    assert arbitrate.lane == "direction"
    assert ready_task(dispute, "ut_analyse")  # the analysis goes on (non-interrupting)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == dispute.id,
                                                        AuditEvent.type == "case_escalated")).one()
    assert event.actor == "commercial" and event.data["reason"] == "Client injoignable, montant important."
    notes = db.session.scalars(select(Notification).where(Notification.case_id == dispute.id,
                                                          Notification.group_name == "direction")).all()
    assert any("Client injoignable, montant important." in n.text and n.kind == "escalation" for n in notes)
    page = text(login(app, "admin").get(f"/dossiers/{dispute.reference}"))
    assert "Escalade manuelle" in page and "Client injoignable, montant important." in page
    # once the arbitration is open, there is nothing more to escalate
    assert "Motif de l’escalade" not in page
    resp = c.post(f"/dossiers/{dispute.reference}/escalader", data={"reason": "Encore"})
    assert resp.status_code == 409


def test_only_the_step_group_may_escalate(app, deployed):
    _complaint, dispute = complaint_with_dispute()
    assert "Motif de l’escalade" not in text(login(app, "accueil").get(f"/dossiers/{dispute.reference}"))
    resp = login(app, "accueil").post(f"/dossiers/{dispute.reference}/escalader", data={"reason": "x"})
    assert resp.status_code == 403
    assert login(app, "auditeur").post(f"/dossiers/{dispute.reference}/escalader",
                                       data={"reason": "x"}).status_code == 403
