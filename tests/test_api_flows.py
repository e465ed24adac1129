"""Every path of both processes end to end through the JSON API, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Case, OutboxMessage
from app.services.cases.lifecycle import fire_due_timers
from tests.support.flows import case, complaint_data, do, history_types, ready, start

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

QUALIFY_OK = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing",
              "qualification_comment": "Double facturation avérée."}
ANALYSE = {"facts": "Frais facturés deux fois.", "root_cause": "Erreur de paramétrage", "curative_action": "Avoir",
           "curative_cost": 12.5, "systemic": "no", "needs_information": "no"}
SATISFIED = {"reaction": "satisfied", "reaction_on": "2026-11-25", "payment_blocked": "no"}
DECIDE = {"decision": "accepted", "compensation": 12.5, "response_text": "Nous vous remboursons les frais."}


def outbox_templates(reference):
    case_id = db.session.query(Case.id).filter_by(reference=reference).scalar()
    return [m.template for m in db.session.query(OutboxMessage).filter_by(case_id=case_id).order_by(OutboxMessage.id)]


def test_processes_listed_with_start_form(api, deployed):
    resp = api.get("accueil", "/api/processes")
    assert resp.status_code == 200
    keys = {p["key"]: p for p in resp.get_json()}
    assert set(keys) >= {"reclamation", "litige"} and keys["reclamation"]["version"] == 1
    detail = api.get("accueil", "/api/processes/reclamation").get_json()
    fields = {f["name"]: f for f in detail["start_form"]}
    assert fields["channel"]["type"] == "enum"
    assert {o["id"] for o in fields["channel"]["options"]} == {
        "web", "email", "phone", "letter", "registered_letter", "counter"}
    assert fields["description"]["type"] == "text" and fields["description"]["required"] is True
    assert detail["start_lane"] == "accueil"


def test_complaint_accepted_closed_with_survey(api, deployed):
    started = start(api, **complaint_data())
    ref = started["reference"]
    assert ref.startswith("REC-2026-") and started["status"] == "open" and started["version"] == 1
    assert [t["bpmn_id"] for t in started["tasks"]] == ["ut_qualify"]
    assert started["tasks"][0]["lane"] == "gestionnaire"
    assert started["due_at"].startswith("2026-12-08")  # written: 15 calendar days after receipt
    assert outbox_templates(ref) == ["acknowledgment"]

    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY_OK)
    assert case(api, ref)["status"] == "in_progress"
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    assert case(api, ref)["status"] == "answered"
    do(api, ref, "ut_reaction", "gestionnaire", SATISFIED)
    current = case(api, ref)
    assert current["status"] == "closed" and current["closed_at"] is not None
    do(api, ref, "ut_survey", "gestionnaire", {"satisfaction_score": 4, "satisfaction_comment": "Rapide."})
    final = case(api, ref)
    assert final["completed"] is True and final["tasks"] == [] and final["satisfaction_score"] == 4
    assert outbox_templates(ref) == ["acknowledgment", "response", "closure", "survey"]
    types = history_types(api, ref)
    assert types[0] == "case_started" and types.count("task_completed") == 5
    assert types.count("message_sent") == 4


def test_non_admissible_short_path(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", {**QUALIFY_OK, "admissible": "no",
                                                "rejection_reason": "Hors du champ des réclamations."})
    final = case(api, ref)
    assert final["completed"] is True and final["status"] == "closed"
    assert outbox_templates(ref) == ["acknowledgment", "rejection"]


def test_compliment_short_path(api, deployed):
    ref = start(api, **complaint_data(kind="compliment", written="no", channel="phone"))["reference"]
    assert case(api, ref)["due_at"].startswith("2026-12-07")  # oral: 10 working days
    do(api, ref, "ut_handle_feedback", "gestionnaire", {"response_text": "Merci pour votre message."})
    final = case(api, ref)
    assert final["completed"] is True and final["status"] == "closed"
    assert outbox_templates(ref) == ["acknowledgment", "response"]


def test_contest_without_block_loops_back_to_analysis(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY_OK)
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    do(api, ref, "ut_reaction", "gestionnaire", {**SATISFIED, "reaction": "contests"})
    assert [t["bpmn_id"] for t in case(api, ref)["tasks"]] == ["ut_analyse"]
    do(api, ref, "ut_analyse", "service", {**ANALYSE, "systemic": "yes", "needs_information": "no"})
    do(api, ref, "ut_decide", "gestionnaire", {**DECIDE, "decision": "partly"})
    do(api, ref, "ut_reaction", "gestionnaire", SATISFIED)
    do(api, ref, "ut_capa", "qualite", {"corrective_action": "Corriger le paramétrage", "preventive_action": "Contrôle",
                                       "action_owner": "qualite", "action_due": "2026-12-31"})
    assert case(api, ref)["status"] == "closed"


def test_contest_with_payment_block_opens_dispute_resolved_by_credit_note(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY_OK)
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", {**DECIDE, "decision": "rejected"})
    do(api, ref, "ut_reaction", "gestionnaire", {**SATISFIED, "reaction": "contests", "payment_blocked": "yes",
                                                 "blocked_amount": 1250.0, "invoice_refs": "FA-2026-1182",
                                                 "block_reason": "Conteste la facture"})
    complaint = case(api, ref)
    dispute_ref = complaint["data"]["dispute_reference"]
    assert dispute_ref.startswith("LIT-2026-") and complaint["tasks"] == []
    assert "dispute_opened" in history_types(api, ref)
    dispute = case(api, dispute_ref)
    assert dispute["parent"] == ref and dispute["blocked_amount"] == 1250.0
    assert dispute["data"]["complaint_reference"] == ref
    assert [t["bpmn_id"] for t in dispute["tasks"]] == ["ut_analyse"]

    do(api, dispute_ref, "ut_analyse", "commercial", {"justified": "partly", "analysis": "Erreur partielle",
                                                      "proposed_credit": 400.0})
    do(api, dispute_ref, "ut_credit_note", "finance", {"credit_note_number": "AV-2026-0042",
                                                       "credited_amount": 400.0})
    do(api, dispute_ref, "ut_release", "finance", {"payment_released": "yes", "released_amount": 850.0,
                                                   "released_on": "2026-11-30"})
    do(api, dispute_ref, "ut_close", "gestionnaire", {"closing_comment": "Avoir émis, paiement reçu."})
    # The closed dispute told its complaint (BPMN message litige_clos) and the complaint moved on: the dispute's
    # closing letter comes before the complaint's.
    assert "message_received" in history_types(api, ref)
    assert outbox_templates(dispute_ref)[-1] == "dispute_closed"
    letters = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    order = [m.template for m in letters if m.template in ("dispute_closed", "closure")]
    assert order == ["dispute_closed", "closure"]
    dispute = case(api, dispute_ref)
    assert dispute["completed"] and dispute["status"] == "closed" and dispute["credited_amount"] == 400.0
    complaint = case(api, ref)
    assert complaint["status"] == "closed"
    assert [t["bpmn_id"] for t in complaint["tasks"]] == ["ut_survey"]


def test_dispute_opened_directly_by_finance_with_collection(api, deployed):
    resp = api.post("finance", "/api/cases", json={"process": "litige", "data": {
        "customer_name": "Acier Nord SA", "invoice_refs": "FA-1, FA-2", "blocked_amount": 5000.0,
        "block_reason": "Livraison incomplète"}})
    assert resp.status_code == 201, resp.get_json()
    ref = resp.get_json()["reference"]
    assert ref.startswith("LIT-2026-")
    do(api, ref, "ut_analyse", "commercial", {"justified": "not_justified", "analysis": "Livraison complète"})
    do(api, ref, "ut_collection", "finance", {"collection_action": "Relance", "promised_date": "2026-12-10"})
    do(api, ref, "ut_release", "finance", {"payment_released": "no"})
    do(api, ref, "ut_collection", "finance", {"collection_action": "Mise en demeure"})
    do(api, ref, "ut_release", "finance", {"payment_released": "yes", "released_amount": 5000.0})
    do(api, ref, "ut_close", "gestionnaire", {"closing_comment": "Payé."})
    assert case(api, ref)["completed"] is True
    # accueil may not open disputes
    resp = api.post("accueil", "/api/cases", json={"process": "litige", "data": {}})
    assert resp.status_code == 403


def test_deadline_escalation_with_controlled_clock(api, deployed, app):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY_OK)
    assert fire_due_timers() == []  # nothing due yet
    clock.advance(days=16)
    assert fire_due_timers() == [ref]
    tasks = {t["bpmn_id"]: t for t in case(api, ref)["tasks"]}
    assert set(tasks) == {"ut_analyse", "ut_overdue"} and tasks["ut_overdue"]["lane"] == "responsable"
    assert "timer_fired" in history_types(api, ref)
    do(api, ref, "ut_overdue", "responsable", {"overdue_action": "holding_letter", "expected_answer_on": "2026-12-20",
                                               "overdue_comment": "Analyse technique en cours."})
    assert outbox_templates(ref)[-1] == "holding_letter"
    assert fire_due_timers() == []  # fired once only
    do(api, ref, "ut_analyse", "service", ANALYSE)
    assert [t["bpmn_id"] for t in case(api, ref)["tasks"]] == ["ut_decide"]


def test_dispute_escalates_to_direction(api, deployed):
    resp = api.post("finance", "/api/cases", json={"process": "litige", "data": {
        "customer_name": "Acier Nord SA", "invoice_refs": "FA-9", "blocked_amount": 900.0,
        "block_reason": "Prix contesté"}})
    ref = resp.get_json()["reference"]
    clock.advance(days=31)
    assert fire_due_timers() == [ref]
    assert "ut_arbitrate" in {t["bpmn_id"] for t in case(api, ref)["tasks"]}
    assert ready(api, ref, "ut_arbitrate")["lane"] == "direction"


def test_survey_times_out_after_30_days(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", {**QUALIFY_OK, "admissible": "no",
                                                "rejection_reason": "Hors du champ des réclamations."})
    ref2 = start(api, **complaint_data(customer_name="Autre"))["reference"]
    do(api, ref2, "ut_qualify", "gestionnaire", QUALIFY_OK)
    do(api, ref2, "ut_analyse", "service", ANALYSE)
    do(api, ref2, "ut_decide", "gestionnaire", DECIDE)
    do(api, ref2, "ut_reaction", "gestionnaire", SATISFIED)
    clock.advance(days=31)
    assert ref2 in fire_due_timers()
    final = case(api, ref2)
    assert final["completed"] is True and final["tasks"] == []


def test_escalation_branch_does_not_bring_back_stale_data(api, deployed):
    """The escalation path carries a copy of the data from when the timer fired; completing it later must not
    erase what the main path recorded meanwhile."""
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY_OK)
    clock.advance(days=16)
    assert fire_due_timers() == [ref]
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_overdue", "responsable", {"overdue_action": "remind", "overdue_comment": "Relance du service."})
    data = case(api, ref)["data"]
    assert data["facts"] == ANALYSE["facts"] and data["overdue_action"] == "remind"
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    data = case(api, ref)["data"]
    assert data["response_text"] == DECIDE["response_text"] and data["facts"] == ANALYSE["facts"]
    assert case(api, ref)["status"] == "answered"
