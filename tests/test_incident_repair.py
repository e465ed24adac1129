"""Incidents on the diagram: where a case is stuck, in French; an admin retries or moves the token with a reason,
recorded on the audit trail and replayed by the audit replay."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, TaskRow
from app.services.audit.verification import verify_case
from app.services.cases import lifecycle as cases
from app.services.core import definitions
from app.services.core.errors import Forbidden, Invalid
from app.services.core.handlers import HANDLERS
from app.services.people.users import by_username
from tests.support import flows
from tests.support.setup import TEST_BPMN

START = {"customer_name": "Jeanne Martin", "customer_email": "jeanne@example.fr", "divisor": 0}


@pytest.fixture
def incident_process(deployed):
    HANDLERS["test_flaky"] = lambda ctx, props, data: {"external_ref": "EXT-42"}
    definitions.deploy_xml((TEST_BPMN / "incident.bpmn").read_text(encoding="utf-8"), "test", "incident.bpmn")
    db.session.commit()
    yield
    del HANDLERS["test_flaky"]


def ready(case_id):
    return [r.bpmn_id for r in db.session.scalars(select(TaskRow).where(TaskRow.case_id == case_id,
                                                                          TaskRow.state == "ready"))]


def login(client, username):
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302


def test_incident_error_is_french_and_shown_on_the_diagram(incident_process, client):
    case = cases.start_case(by_username("gestionnaire"), "incident_test", START)
    assert case.incident and "division par zéro" in case.incident and "ZeroDivisionError" not in case.incident
    login(client, "admin")
    info = client.get(f"/dossiers/{case.reference}/diagramme.json").get_json()
    assert info["incident"] == {"element": "script_ratio", "error": case.incident}
    page = client.get(f"/admin/incidents/{case.reference}").get_data(as_text=True)
    assert "division par zéro" in page and 'name="reason"' in page and 'value="ut_check"' in page
    assert f"/admin/incidents/{case.reference}" in client.get("/admin/incidents").get_data(as_text=True)


def test_admin_moves_the_token_past_the_failing_step_with_a_reason(incident_process, client):
    case = cases.start_case(by_username("gestionnaire"), "incident_test", START)
    reference, case_id = case.reference, case.id
    login(client, "admin")
    resp = client.post(f"/admin/incidents/{reference}/deplacer", data={
        "from": "script_ratio", "to": "ut_check", "reason": "Diviseur saisi à zéro par erreur, ratio inutile."},
        follow_redirects=True)
    assert "jeton déplacé, le dossier a repris" in resp.get_data(as_text=True)
    db.session.expire_all()
    case = cases.get_case(reference)
    assert case.incident is None and ready(case_id) == ["ut_check"] and "ratio" not in case.data
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                        AuditEvent.type == "token_moved")).one()
    assert event.actor == "admin" and event.data["reason"].startswith("Diviseur saisi")
    assert (event.data["from"], event.data["to"]) == ("script_ratio", "ut_check")
    assert verify_case(case) == []  # the replay moves the token the same way


def test_a_reason_is_required_and_only_admins_move(incident_process):
    case = cases.start_case(by_username("gestionnaire"), "incident_test", START)
    with pytest.raises(Invalid):
        cases.move_token(by_username("admin"), case.reference, "script_ratio", "ut_check", "")
    with pytest.raises(Forbidden):
        cases.move_token(by_username("gestionnaire"), case.reference, "script_ratio", "ut_check", "parce que")
    with pytest.raises(Invalid) as exc:
        cases.move_token(by_username("admin"), case.reference, "script_ratio", "end_nowhere", "une raison")
    assert "Déplacement impossible" in exc.value.errors["to"]


def test_admin_moves_a_waiting_case_on_past_a_user_task(api, deployed):
    ref = flows.start(api, **flows.complaint_data())["reference"]
    flows.do(api, ref, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high"})
    admin = by_username("admin")
    targets = cases.token_targets(admin, ref)
    assert targets["ut_analyse"]["gw_info"] == "Informations à demander ?"  # what follows the held step
    assert targets["ut_analyse"]["ut_reaction"] == "Enregistrer la réaction du client"  # any element, further on
    cases.move_token(admin, ref, "ut_analyse", "gw_info", "Analyse faite hors application, pièces au dossier.")
    # the gateway reads what the skipped form would have written: a new incident, in French, at the gateway
    stuck = cases.get_case(ref)
    assert "needs_information" in stuck.incident and "n'existe pas dans le dossier" in stuck.incident
    assert "Did you mean" not in stuck.incident
    assert "gw_info" in cases.token_targets(admin, ref)
    cases.move_token(admin, ref, "gw_info", "ut_decide", "Aucune information à demander : décision directe.")
    current = flows.case(api, ref)
    assert current["incident"] is None and [t["bpmn_id"] for t in current["tasks"]] == ["ut_decide"]
    history = api.get("auditeur", f"/api/cases/{ref}/history").get_json()["events"]
    moved = [e for e in history if e["type"] == "token_moved"]
    assert len(moved) == 2 and moved[0]["data"]["reason"].startswith("Analyse faite")
    assert verify_case(cases.get_case(ref)) == []
