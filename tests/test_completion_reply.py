"""The answer of `POST /api/tasks/<id>/complete` is built from the rows the step wrote, without reading them back:
it must be what a fresh read of the case gives (`GET /api/cases/<reference>`), on both backends."""

import re

import pytest
from sqlalchemy import event

from app.extensions import db
from app.services.core.definitions import deploy_files
from tests.support.flows import case, complaint_data, ready, start
from tests.support.setup import TEST_BPMN

pytestmark = pytest.mark.usefixtures("rollup_checked")  # the indicators still equal their rebuild


def by_age(tasks: list[dict]) -> list[dict]:
    """Tasks created at the same instant (a parallel split) come in no defined order from a read: compare them by id."""
    return sorted(tasks, key=lambda t: (t["created_at"], t["id"]))


def complete(api, reference, bpmn_id, user, data) -> tuple[dict, list[str]]:
    """Complete the ready task at bpmn_id; the answer and the statements the request sent."""
    task = ready(api, reference, bpmn_id)
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        resp = api.post(user, f"/api/tasks/{task['id']}/complete", json={"data": data})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json(), seen


def ready_rereads(statements: list[str]) -> int:
    """Reads of a case's ready rows as the answer used to make them (`tasks.ready_for_case`: task rows of one case
    in a state, oldest first); the step's own reads (the lock's, the ready rows with the chain head, a closed
    case's rows for its indicators) have other shapes."""
    return sum(1 for s in statements
               if re.search(r"\bFROM task\s+WHERE task.case_id = \S+ AND task.state = \S+ ORDER BY task.created_at\s*$",
                            s, re.IGNORECASE))


def assert_answer_is_fresh(api, reference, answer: dict) -> None:
    fresh = case(api, reference)
    created = [t["created_at"] for t in answer["tasks"]]
    assert created == sorted(created)  # oldest first, as the read orders them
    assert by_age(answer["tasks"]) == by_age(fresh["tasks"])
    assert {**answer, "tasks": None} == {**fresh, "tasks": None}


def test_the_answer_of_each_complaint_step_is_what_a_fresh_read_gives(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    steps = [("ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high"}),
             ("ut_analyse", "service", {"facts": "Frais facturés deux fois.", "systemic": "no",
                                        "needs_information": "no"}),
             ("ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Nous vous remboursons."}),
             ("ut_reaction", "gestionnaire", {"reaction": "satisfied", "reaction_on": "2026-11-25",
                                              "payment_blocked": "no"}),
             ("ut_survey", "gestionnaire", {"satisfaction_score": 4})]
    for bpmn_id, user, data in steps:
        answer, statements = complete(api, ref, bpmn_id, user, data)
        assert_answer_is_fresh(api, ref, answer)
        # The answer's tasks are the rows the step wrote: not read again.
        assert ready_rereads(statements) == 0, (bpmn_id, [s for s in statements if "task" in s])
    assert answer["completed"] is True and answer["tasks"] == []


def test_parallel_branches_kept_created_and_recreated_at_one_instant(api, users):
    deploy_files([TEST_BPMN / "parallel_loop.bpmn"], "test")
    started = start(api, user="gestionnaire", process="double_avis", customer_name="Martine Lefèvre")
    ref = started["reference"]
    assert {t["bpmn_id"] for t in started["tasks"]} == {"ut_service", "ut_finance"}

    # One branch done: the other, read under the lock and untouched by the step, is still in the answer.
    answer, _ = complete(api, ref, "ut_service", "service", {"service_opinion": "Favorable"})
    assert [t["bpmn_id"] for t in answer["tasks"]] == ["ut_finance"]
    assert_answer_is_fresh(api, ref, answer)

    answer, _ = complete(api, ref, "ut_finance", "finance", {"finance_opinion": "Réservé"})
    assert [t["bpmn_id"] for t in answer["tasks"]] == ["ut_conclude"]
    assert_answer_is_fresh(api, ref, answer)

    # Looping back to the split: two new rows at the same instant, the completed one left out.
    answer, _ = complete(api, ref, "ut_conclude", "gestionnaire", {"again": True})
    assert {t["bpmn_id"] for t in answer["tasks"]} == {"ut_service", "ut_finance"}
    assert all(t["state"] == "ready" for t in answer["tasks"])
    assert_answer_is_fresh(api, ref, answer)


def test_a_stale_completion_answers_409_and_writes_nothing(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    task = ready(api, ref, "ut_qualify")
    data = {"admissible": "yes", "category": "billing", "severity": "high"}
    assert api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": data}).status_code == 200
    before = case(api, ref)
    again = api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert again.status_code == 409
    assert case(api, ref) == before
