"""A complaint driven to a dispute through the services (page tests of the complainant's thread)."""

from app.services.cases import lifecycle as cases
from tests.support.pages import ready_task, start_case, user

QUALIFY = {"admissible": "yes", "category": "billing", "severity": "medium", "department": "billing"}
ANALYSE = {"facts": "Frais de port facturés deux fois.", "systemic": "no", "needs_information": "no"}
DECIDE = {"decision": "rejected", "response_text": "Les frais sont dus selon nos conditions."}
CONTEST = {"reaction": "contests", "reaction_on": "2026-11-25", "payment_blocked": "yes",
           "blocked_amount": 1250.4, "invoice_refs": "FA-2026-1182", "block_reason": "Conteste la facture"}


def answered_complaint(**overrides):
    """A complaint answered and waiting for the complainant's reaction (ut_reaction ready)."""
    case = start_case(**overrides)
    for bpmn_id, who, data in (("ut_qualify", "gestionnaire", QUALIFY), ("ut_analyse", "service", ANALYSE),
                               ("ut_decide", "gestionnaire", DECIDE)):
        cases.complete_task(user(who), ready_task(case, bpmn_id).id, data)
    return cases.get_case(case.reference)


def complaint_with_dispute(**overrides):
    """(complaint, dispute): the complainant contested and blocked a payment, the dispute waits at ut_analyse."""
    case = answered_complaint(**overrides)
    cases.complete_task(user("gestionnaire"), ready_task(case, "ut_reaction").id, CONTEST)
    case = cases.get_case(case.reference)
    return case, cases.get_case(case.data["dispute_reference"])
