"""Incidents: a failing service task or script stops the case with nothing half-written; admins list and retry."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, OutboxMessage, TaskRow
from app.services.cases import lifecycle as cases
from app.services.core import definitions
from app.services.core.handlers import HANDLERS
from app.services.people.users import by_username
from tests.support.auth import login
from tests.support.setup import TEST_BPMN

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

START = {"customer_name": "Jeanne Martin", "customer_email": "jeanne@example.fr", "divisor": 1}


@pytest.fixture
def flaky(deployed):
    """Deploy tests/bpmn/incident.bpmn and register `test_flaky`: it queues a letter, then fails until fixed."""
    state = {"fixed": False, "calls": 0}

    def test_flaky(ctx, props, data):
        state["calls"] += 1
        ctx.send_message(props["template"], data)  # must be discarded when the handler then fails
        if not state["fixed"]:
            raise ConnectionError("service externe indisponible")
        return {"external_ref": "EXT-42"}

    HANDLERS["test_flaky"] = test_flaky
    definitions.deploy_xml((TEST_BPMN / "incident.bpmn").read_text(encoding="utf-8"), "test", "incident.bpmn")
    db.session.commit()
    yield state
    del HANDLERS["test_flaky"]


def outbox(case_id: int) -> list[str]:
    return sorted(m.template for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)))


def ready(case_id: int) -> list[str]:
    return [r.bpmn_id for r in db.session.scalars(select(TaskRow).where(TaskRow.case_id == case_id,
                                                                          TaskRow.state == "ready"))]


def start(**overrides):
    return cases.start_case(by_username("gestionnaire"), "incident_test", {**START, **overrides})


def test_failing_service_task_puts_the_case_in_incident_with_nothing_half_written(flaky):
    case = start()
    assert "service externe indisponible" in case.incident
    assert flaky["calls"] == 1
    assert ready(case.id) == []
    assert outbox(case.id) == ["acknowledgment"]  # the step before it stands; the failing one left nothing
    assert "external_ref" not in case.data
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                        AuditEvent.type == "incident")).one()
    assert event.bpmn_id == "st_flaky"


def test_admin_lists_incidents_and_retries_after_the_fix(flaky, client):
    case = start()
    reference, case_id = case.reference, case.id
    login(client, "admin")
    page = client.get("/admin/incidents")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert reference in html and "st_flaky" in html and "service externe indisponible" in html
    assert f"/admin/incidents/{reference}/retry" in html

    still = client.post(f"/admin/incidents/{reference}/retry", follow_redirects=True)
    assert "échoue encore" in still.get_data(as_text=True)
    db.session.expire_all()
    assert cases.get_case(reference).incident and outbox(case_id) == ["acknowledgment"]

    flaky["fixed"] = True
    fixed = client.post(f"/admin/incidents/{reference}/retry", follow_redirects=True)
    assert "incident est résolu" in fixed.get_data(as_text=True)
    assert "Aucun incident en cours" in fixed.get_data(as_text=True)
    db.session.expire_all()
    case = cases.get_case(reference)
    assert case.incident is None and case.data["external_ref"] == "EXT-42"
    assert ready(case_id) == ["ut_check"]
    assert outbox(case_id) == ["acknowledgment", "holding_letter"]  # each exactly once
    types = [e.type for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                                 .order_by(AuditEvent.seq))]
    assert types.count("incident") == 2 and types.count("incident_retried") == 2


def test_failing_script_is_an_incident_at_the_script(flaky):
    flaky["fixed"] = True
    case = start(divisor=0)
    assert "ZeroDivisionError" in case.incident or "division" in case.incident
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id,
                                                        AuditEvent.type == "incident")).one()
    assert event.bpmn_id == "script_ratio"
    assert ready(case.id) == [] and "ratio" not in case.data


@pytest.mark.parametrize("username, status", [("gestionnaire", 403), ("auditeur", 403), (None, 302)])
def test_only_admins_see_and_retry_incidents(flaky, client, username, status):
    reference = start().reference
    if username:
        login(client, username)
    assert client.get("/admin/incidents").status_code == status
    assert client.post(f"/admin/incidents/{reference}/retry").status_code == status
    db.session.expire_all()
    assert cases.get_case(reference).incident  # nothing retried


def test_retrying_a_case_without_incident_is_refused(flaky, client):
    flaky["fixed"] = True
    reference = start().reference
    login(client, "admin")
    resp = client.post(f"/admin/incidents/{reference}/retry", follow_redirects=True)
    assert "pas en incident" in resp.get_data(as_text=True)


def test_incident_cases_are_in_the_navigation_for_admins_only(flaky, client):
    login(client, "admin")
    assert 'href="/admin/incidents"' in client.get("/me").get_data(as_text=True)
    client.post("/logout")
    login(client, "gestionnaire")
    assert 'href="/admin/incidents"' not in client.get("/me").get_data(as_text=True)
