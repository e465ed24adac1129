"""A step's case and task rows written by prebuilt Core statements (app/services/core/step_writes.py).

What matters is what the transaction and the database see: after the step the session holds nothing left to
flush for the case, its objects equal the stored rows, a case changed meanwhile still ends in a 409 with
nothing written, and the indicators still equal their rebuild (the `rollup_checked` fixture).
"""

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent, Case, OutboxMessage, TaskRow
from app.services.cases import lifecycle as cases
from app.services.core.case_lock import lock_case
from app.services.core.definitions import deploy_files
from app.services.core.errors import Conflict
from app.services.core.transaction import transaction
from app.services.deadlines import clocks
from app.services.messaging import messages
from app.services.people.users import by_username
from app.services.tasks.actions import ready_for_case
from tests.support.flows import complaint_data
from tests.support.setup import TEST_BPMN

pytestmark = pytest.mark.usefixtures("rollup_checked")  # the indicators still equal their rebuild


def _stored(table: str, key: str, value) -> dict:
    return dict(db.session.execute(text(f"SELECT * FROM {table} WHERE {key} = :v"), {"v": value}).mappings().one())


def test_after_a_step_nothing_is_left_to_flush_and_the_objects_are_the_rows(users):
    deploy_files([TEST_BPMN / "loop.bpmn"], "test")
    case_id = cases.start_case(by_username("gestionnaire"), "boucle", {"customer_name": "Boucle"}).id
    task_id = ready_for_case(case_id)[0].id
    version = db.session.get(Case, case_id).lock_version
    db.session.remove()
    user = by_username("gestionnaire")
    with transaction():
        case = cases.complete_task(user, task_id, {"again": True, "note": "première"})
        pending = [o for o in list(db.session.new) + list(db.session.dirty) if isinstance(o, Case | TaskRow)]
        assert pending == []  # written by the step itself: the flush at commit has nothing of them
        stored = _stored("case_record", "id", case_id)
        assert stored["lock_version"] == case.lock_version == version + 1  # checked and moved on once
        assert stored["stage"] == case.stage
        done = db.session.get(TaskRow, task_id)
        assert done.state == "completed" and done.completed_by == "gestionnaire"
        assert _stored("task", "id", task_id)["state"] == "completed"
        assert done.duration_seconds is not None  # the derived fact, as the flush computed it
        new = ready_for_case(case_id)  # a query in the same transaction finds the inserted row
        assert len(new) == 1 and new[0].id != task_id and new[0] in db.session
        row = _stored("task", "id", new[0].id)
        assert row["customer_key"] == "boucle" and row["due_key"] is not None  # the derived keys, as on insert
    db.session.remove()
    again = db.session.get(Case, case_id)
    assert again.lock_version == version + 1 and ready_for_case(case_id)[0].state == "ready"


def test_a_case_changed_meanwhile_is_a_conflict_and_nothing_is_written(users):
    deploy_files([TEST_BPMN / "loop.bpmn"], "test")
    case_id = cases.start_case(by_username("gestionnaire"), "boucle", {"customer_name": "Boucle"}).id
    task_id = ready_for_case(case_id)[0].id
    version = db.session.get(Case, case_id).lock_version
    events = db.session.scalar(select(db.func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case_id))
    db.session.remove()
    user = by_username("gestionnaire")
    with pytest.raises(Conflict), transaction():
        row = db.session.get(TaskRow, task_id)
        lock_case(row.case_id)
        # Another writer's commit, as the version check sees it: the stored lock_version moved on.
        db.session.execute(text("UPDATE case_record SET lock_version = lock_version + 1 WHERE id = :id"),
                           {"id": case_id})
        cases.complete_row(row, user.username, {"again": True, "note": "trop tard"})
    db.session.remove()
    assert db.session.get(Case, case_id).lock_version == version  # rolled back, the meddling included
    assert db.session.get(TaskRow, task_id).state == "ready"
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.case_id == case_id)) == events


def test_letters_of_a_step_are_in_the_outbox_and_on_the_trail_in_the_same_transaction(deployed):
    case_id = cases.start_case(by_username("accueil"), "reclamation", complaint_data()).id
    steps = [("ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high"}),
             ("ut_analyse", "service", {"facts": "Frais facturés deux fois.", "systemic": "no",
                                        "needs_information": "no"})]
    for bpmn_id, group, data in steps:
        row = next(r for r in ready_for_case(case_id) if r.bpmn_id == bpmn_id)
        cases.complete_task(by_username(group), row.id, data)
    row = next(r for r in ready_for_case(case_id) if r.bpmn_id == "ut_decide")
    with transaction():
        cases.complete_task(by_username("gestionnaire"), row.id,
                            {"decision": "accepted", "response_text": "Nous vous remboursons."})
        sent = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                           AuditEvent.type == "message_sent")).all()
        assert sent, "the decision sends the response letter"
        for event in sent:  # each names an outbox row the transaction already holds, equal to the stored one
            message = db.session.get(OutboxMessage, event.data["outbox_id"])
            assert message is not None and message.template == event.data["template"]
            assert _stored("outbox_message", "id", message.id)["subject"] == message.subject
            assert message.status == "pending" and message.attempts == 0


def test_open_clocks_counts_the_transactions_own_changes_without_a_flush(deployed):
    case = cases.start_case(by_username("accueil"), "reclamation", complaint_data())
    case_id = case.id
    db.session.remove()
    try:
        case = lock_case(case_id)
        running = clocks.open_clocks(case)
        assert running, "a written complaint starts its answer clock"
        first = running[0]
        first.stopped_at = first.started_at  # stopped in this transaction, not flushed
        assert first not in clocks.open_clocks(case)
        assert first in db.session.dirty  # still pending: open_clocks did not flush it
        assert [c.id for c in clocks.open_clocks(case)] == [c.id for c in running[1:]]
    finally:
        db.session.rollback()


def test_a_rolled_back_step_leaves_nothing_of_its_rows_in_the_session(deployed):
    case_id = cases.start_case(by_username("accueil"), "reclamation", complaint_data()).id
    case = db.session.get(Case, case_id)
    # A letter queued, then the transaction rolled back, twice in the same session (a worker's loop): the
    # second row may take the first one's id (SQLite reuses it), and must not meet a leftover object.
    for _ in range(2):
        message = messages.queue(case, "response", {**case.data, "response_text": "Réponse."})
        assert message in db.session and message.id is not None
        db.session.rollback()
        assert message not in db.session
    # A completed step whose transaction fails afterwards: its new task row leaves the session with it.
    row = next(r for r in ready_for_case(case_id) if r.bpmn_id == "ut_qualify")
    user = by_username("gestionnaire")
    before = {r.id for r in ready_for_case(case_id)}
    with pytest.raises(RuntimeError), transaction():
        cases.complete_task(user, row.id, {"admissible": "yes", "category": "billing", "severity": "high"})
        new = [r for r in ready_for_case(case_id) if r.id not in before]
        assert new
        raise RuntimeError("after the step")
    assert all(r not in db.session for r in new)
    assert {r.id for r in ready_for_case(case_id)} == before
    assert db.session.get(TaskRow, row.id).state == "ready"
