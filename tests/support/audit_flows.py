"""A real complaint path for the audit tests: timer, claims, holding letter, dispute and its closure.

Every step captures what the case looked like then (through the API), so that replay can be checked
against the past as it really was.
"""

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.cases.lifecycle import fire_due_timers
from app.services.tasks import actions as tasks
from tests.support.flows import advance_days, case, complaint_data, do, ready, start


def last_seq(api, reference) -> int:
    resp = api.get("auditeur", f"/api/cases/{reference}/history")
    return resp.get_json()["events"][-1]["seq"]


def capture(api, reference, captures: dict) -> None:
    """Record the case as the API shows it now, keyed by the seq of its last event."""
    now = case(api, reference)
    captures[last_seq(api, reference)] = {
        "data": now["data"], "status": now["status"],
        "ready": sorted((t["bpmn_id"], t["lane"], t["assignee"]) for t in now["tasks"]),
    }


def run_dispute_path(api) -> tuple[str, str, dict, dict]:
    """Drive a complaint through a timer and a dispute to its end; return refs and captures of both cases."""
    cap, child_cap = {}, {}
    ref = start(api, **complaint_data())["reference"]
    capture(api, ref, cap)
    task = ready(api, ref, "ut_qualify")
    assert api.post("gestionnaire", f"/api/tasks/{task['id']}/claim").status_code == 200
    capture(api, ref, cap)
    do(api, ref, "ut_qualify", "gestionnaire",
       {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"})
    capture(api, ref, cap)
    advance_days(16)  # past the 15-day answer deadline: the non-interrupting overdue timer fires
    assert fire_due_timers() == [ref]
    capture(api, ref, cap)
    do(api, ref, "ut_overdue", "responsable", {"overdue_action": "holding_letter", "expected_answer_on": "2026-12-20"})
    capture(api, ref, cap)
    advance_days(1)
    task = ready(api, ref, "ut_analyse")
    assert api.post("service", f"/api/tasks/{task['id']}/claim").status_code == 200
    capture(api, ref, cap)
    assert api.post("service", f"/api/tasks/{task['id']}/unclaim").status_code == 200
    capture(api, ref, cap)
    tasks.reassign(db.session.scalars(select(User).where(User.username == "responsable")).one(), task["id"], "service")
    capture(api, ref, cap)
    do(api, ref, "ut_analyse", "service", {"facts": "Double facturation confirmée.", "systemic": "no",
                                           "needs_information": "no"})
    capture(api, ref, cap)
    do(api, ref, "ut_decide", "gestionnaire",
       {"decision": "rejected", "response_text": "Nous maintenons la facturation."})
    capture(api, ref, cap)
    advance_days(2)
    do(api, ref, "ut_reaction", "gestionnaire",
       {"reaction": "contests", "reaction_on": "2026-12-12", "payment_blocked": "yes", "blocked_amount": 42.5,
        "invoice_refs": "FA-2026-1182", "block_reason": "Double facturation"})
    capture(api, ref, cap)
    child = case(api, ref)["data"]["dispute_reference"]
    capture(api, child, child_cap)
    do(api, child, "ut_analyse", "commercial", {"justified": "justified", "analysis": "Erreur de facturation."})
    capture(api, child, child_cap)
    do(api, child, "ut_credit_note", "finance", {"credit_note_number": "AV-001", "credited_amount": 42.5})
    capture(api, child, child_cap)
    task = ready(api, child, "ut_release")
    assert api.post("finance", f"/api/tasks/{task['id']}/claim").status_code == 200
    capture(api, child, child_cap)
    do(api, child, "ut_release", "finance", {"payment_released": "yes", "released_amount": 42.5})
    capture(api, child, child_cap)
    do(api, child, "ut_close", "gestionnaire", {"closing_comment": "Avoir émis."})
    capture(api, child, child_cap)
    capture(api, ref, cap)  # the complaint received litige_clos from the closed dispute
    do(api, ref, "ut_survey", "gestionnaire", {"satisfaction_score": 4})
    capture(api, ref, cap)
    return ref, child, cap, child_cap
