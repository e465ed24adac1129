"""What one completion sends to the database: each row read once, one flush, no re-read for the indicators.

Not a timing test: it counts statements by kind (the engine's own before_cursor_execute event), so that a
duplicate read or write of a step's rows comes back as a failure, not as a slower benchmark.
"""

import re
from collections import Counter

import pytest
from sqlalchemy import event

from app.extensions import db
from app.models import Case
from app.services.cases import lifecycle as cases
from app.services.core import audit
from app.services.core.definitions import deploy_files
from app.services.people.users import by_username
from app.services.tasks.actions import ready_for_case
from tests.support.flows import complaint_data
from tests.support.setup import TEST_BPMN

pytestmark = pytest.mark.usefixtures("rollup_checked")  # the indicators still equal their rebuild


def kind(statement: str) -> str:
    """`SELECT case_record`, `UPDATE task`, `INSERT audit_event`... of one statement."""
    verb = statement.split(None, 1)[0].upper()
    table = re.search(r"\b(?:FROM|UPDATE|INTO)\s+\"?(\w+)", statement, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else '?'}"


def statements_of(work) -> Counter:
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(kind(statement))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    return Counter(seen)


def complete_fresh(user_name: str, case_id: int, bpmn_id: str | None, data: dict):
    """Complete a task as a request does: a new session that has not read the task row yet."""
    task_id = next(r.id for r in ready_for_case(case_id) if bpmn_id is None or r.bpmn_id == bpmn_id)
    db.session.remove()
    user = by_username(user_name)
    return statements_of(lambda: cases.complete_task(user, task_id, dict(data)))


def test_a_loop_step_reads_each_row_once_and_flushes_once(users):
    deploy_files([TEST_BPMN / "loop.bpmn"], "test")
    case_id = cases.start_case(by_username("gestionnaire"), "boucle", {"customer_name": "Boucle"}).id
    for n in range(3):
        counts = complete_fresh("gestionnaire", case_id, None, {"again": True, "note": f"passe {n}"})
        # found and locked by the task id with its workflow state (case_lock.lock_task_case), kept by the lock
        assert counts["SELECT case_record"] == 1 and counts["SELECT workflow_state"] == 0
        # After the lock, one statement: the row, the rows still ready and the audit chain head (its subquery's
        # FROM comes first: counted as a SELECT audit_event).
        assert counts["SELECT task"] + counts["SELECT audit_event"] == 1, counts
        assert counts["UPDATE case_record"] == 1 and counts["UPDATE workflow_state"] == 1
        assert counts["UPDATE task"] == 1 and counts["INSERT task"] == 1 and counts["INSERT audit_event"] == 1
        assert sum(counts.values()) <= 9, counts


def test_a_complaint_step_with_letters_updates_its_case_once(deployed):
    case_id = cases.start_case(by_username("accueil"), "reclamation", complaint_data()).id
    steps = [("ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high"}),
             ("ut_analyse", "service", {"facts": "Frais facturés deux fois.", "systemic": "no",
                                        "needs_information": "no"}),
             ("ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Nous vous remboursons."}),
             ("ut_reaction", "gestionnaire", {"reaction": "satisfied", "reaction_on": "2026-11-25",
                                              "payment_blocked": "no"})]
    for bpmn_id, group, data in steps:
        counts = complete_fresh(group, case_id, bpmn_id, data)
        assert counts["SELECT case_record"] == 1, (bpmn_id, counts)
        assert counts["UPDATE case_record"] == 1, (bpmn_id, counts)  # the letters' facts in the same UPDATE
        # The step's events and each letter's `message_sent` by one INSERT (audit.batched around the effects)
        assert counts["INSERT audit_event"] == 1, (bpmn_id, counts)
    db.session.remove()
    case = db.session.get(Case, case_id)
    assert case.answered_at is not None and case.survey_sent_at is not None  # both letters' facts kept
    # The batched events chain on: a letter's template created from its seed (a savepoint, whose end empties the
    # cache of chain heads) while the step's events were still held did not restart the chain from the table.
    types = [e.type for e in audit.history(case_id)]
    assert types.count("message_sent") >= 3 and "clock_stopped" in types, types
    assert [e.seq for e in audit.history(case_id)] == list(range(1, len(types) + 1))
    assert audit.verify(case.reference) == []
