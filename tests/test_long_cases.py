"""Long-lived cases: 1,000-pass loops through the service, compacted task trees, joins, and the stall guard."""

from datetime import timedelta

import pytest
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator
from sqlalchemy import func, select

from app import clock
from app.engine import CaseWorkflow
from app.engine import compaction as engine_compaction
from app.extensions import db
from app.models import AuditEvent, Case, TaskRow, WorkflowState
from app.services.audit.verification import verify_case
from app.services.cases import lifecycle as cases
from app.services.core import audit
from app.services.core.definitions import deploy_files
from app.services.people.users import by_username
from app.services.tasks.actions import ready_for_case
from tests.support.setup import START, TEST_BPMN

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

PASSES = 1000
DAY = timedelta(days=1)


@pytest.fixture
def loops(users):
    deploy_files([TEST_BPMN / "loop.bpmn", TEST_BPMN / "reminder_loop.bpmn", TEST_BPMN / "parallel_loop.bpmn"],
                 "test")


def user(name: str):
    return by_username(name)


def events(case: Case, type_: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.type == type_)
                                   .order_by(AuditEvent.seq)))


def task_counts(case: Case) -> dict:
    rows = db.session.execute(select(TaskRow.state, func.count()).where(TaskRow.case_id == case.id)
                              .group_by(TaskRow.state)).all()
    return dict(rows)


def state_size(case: Case) -> int:
    return len(db.session.get(WorkflowState, case.id).state)


def lower_iterator_limit(monkeypatch, limit: int) -> None:
    """Make SpiffWorkflow's task iterators stop at `limit` levels instead of 1000 (their default argument)."""
    monkeypatch.setattr(TaskIterator.__init__, "__defaults__", (None, limit, True, None))
    monkeypatch.setattr(BpmnTaskIterator.__init__, "__defaults__", (None, limit, True, False, None))


# --- the user-task loop ---------------------------------------------------------------------------------------

def test_user_task_loop_runs_1000_passes_through_the_service(loops):
    manager = user("gestionnaire")
    case = cases.start_case(manager, "boucle", {"customer_name": "Martine Lefèvre"})
    sizes = {}
    for n in range(1, PASSES + 1):
        ready = ready_for_case(case.id)
        assert [(r.bpmn_id, r.lane) for r in ready] == [("ask", "gestionnaire")], n
        case = cases.complete_task(manager, ready[0].id, {"again": n < PASSES, "note": f"passe {n}"})
        assert case.incident is None, (n, case.incident)
        assert case.data["passes"] == n
        assert db.session.get(TaskRow, ready[0].id).state == "completed"
        if n in (5, 500, PASSES - 1):
            sizes[n] = state_size(case)

    assert case.completed and case.status == "closed"
    assert case.data["passes"] == PASSES and case.data["note"] == f"passe {PASSES}"
    assert ready_for_case(case.id) == []
    assert task_counts(case) == {"completed": PASSES}
    completed = events(case, "task_completed")
    assert len(completed) == PASSES
    assert [e.data["submitted"]["note"] for e in completed] == [f"passe {n}" for n in range(1, PASSES + 1)]
    assert all([p["bpmn_id"] for p in e.data["path"]] == ["ask", "count", "gw"] for e in completed[:-1])
    assert [p["bpmn_id"] for p in completed[-1].data["path"]] == ["ask", "count", "gw", "end"]
    assert audit.verify(case.reference) == []
    # Replaying the 1,000 recorded inputs (compacted as they go) rebuilds exactly the stored case.
    assert verify_case(case) == []
    # The live tree does not grow with the history: the stored state is as small at pass 999 as at pass 5.
    assert sizes[500] <= sizes[5] * 1.2 and sizes[PASSES - 1] <= sizes[5] * 1.2, sizes


# --- the timer-driven reminder loop ---------------------------------------------------------------------------

def test_reminder_timer_loop_fires_1000_times(loops):
    case = cases.start_case(user("gestionnaire"), "relances", {"customer_name": "Paul Martin", "limit": PASSES})
    reference = case.reference
    assert case.next_timer_at == clock.now() + DAY
    for n in range(1, PASSES + 1):
        clock.advance(hours=23)
        assert cases.fire_due_timers() == [], n  # not due yet: nothing moves
        clock.advance(hours=1, minutes=1)  # SpiffWorkflow fires strictly after the due time
        assert cases.fire_due_timers() == [reference], n
        case = db.session.get(Case, case.id)
        assert case.incident is None, (n, case.incident)
        assert case.data["reminders"] == n
        assert task_counts(case) == {}  # no human task at any point
        if n < PASSES:
            assert case.next_timer_at == clock.now() + DAY
    assert case.completed and case.status == "closed" and case.next_timer_at is None
    fired = events(case, "timer_fired")
    assert len(fired) == PASSES
    assert all([p["bpmn_id"] for p in e.data["path"]][:3] == ["wait_day", "remind", "gw_more"] for e in fired)
    assert events(case, "timer_checked") == []
    assert verify_case(case) == []


# --- a parallel join, compacted between every step -----------------------------------------------------------

def complete(case: Case, bpmn_id: str, username: str, data: dict) -> Case:
    ready = [r for r in ready_for_case(case.id) if r.bpmn_id == bpmn_id]
    assert len(ready) == 1, (bpmn_id, [r.bpmn_id for r in ready_for_case(case.id)])
    return cases.complete_task(user(username), ready[0].id, data)


def ready_ids(case: Case) -> list[str]:
    return sorted(r.bpmn_id for r in ready_for_case(case.id))


def test_parallel_join_waits_for_both_branches_across_saves_and_rounds(loops):
    case = cases.start_case(user("gestionnaire"), "double_avis", {"customer_name": "Hugo Petit"})
    assert ready_ids(case) == ["ut_finance", "ut_service"]
    for rnd in range(1, 31):
        first, second = ("service", "finance") if rnd % 2 else ("finance", "service")
        case = complete(case, f"ut_{first}", first, {f"{first}_opinion": f"{first} {rnd}"})
        # The join keeps waiting for the other branch, though the first arrival was saved and compacted.
        assert ready_ids(case) == [f"ut_{second}"], rnd
        case = complete(case, f"ut_{second}", second, {f"{second}_opinion": f"{second} {rnd}"})
        assert ready_ids(case) == ["ut_conclude"], rnd
        if rnd == 1:  # both branches' data met at the join, and a replay rebuilds the compacted case exactly
            assert case.data["service_opinion"] == "service 1" and case.data["finance_opinion"] == "finance 1"
            assert verify_case(case) == []
        case = complete(case, "ut_conclude", "gestionnaire", {"again": rnd < 30})
    assert case.completed and ready_ids(case) == []
    assert task_counts(case) == {"completed": 90}
    assert len(events(case, "task_completed")) == 90
    assert case.data["finance_opinion"] == "finance 30" and case.data["service_opinion"] == "service 30"
    assert audit.verify(case.reference) == []


# --- compaction changes nothing the case shows ----------------------------------------------------------------

def run_loop_case(passes: int) -> tuple[list, dict, int]:
    manager = user("gestionnaire")
    case = cases.start_case(manager, "boucle", {"customer_name": "Léa"})
    for n in range(1, passes + 1):
        ready = ready_for_case(case.id)
        case = cases.complete_task(manager, ready[0].id, {"again": n < passes, "note": str(n)})
    trail = [(e.type, e.bpmn_id, [p["bpmn_id"] for p in e.data.get("path", [])], e.data.get("changes"))
             for e in audit.history(case.id)]
    return trail, dict(case.data), state_size(case)


def test_compaction_gives_the_same_trail_and_data_as_the_raw_library(loops, monkeypatch):
    compacted = run_loop_case(60)
    monkeypatch.setattr(CaseWorkflow, "compaction", False)
    clock.set_now(START)
    raw = run_loop_case(60)
    assert compacted[0] == raw[0]
    assert compacted[1] == raw[1]
    assert compacted[2] * 10 < raw[2]  # and the stored state is an order of magnitude smaller


# --- the stall guard ------------------------------------------------------------------------------------------

def loop_until_stuck(passes: int) -> Case:
    manager = user("gestionnaire")
    case = cases.start_case(manager, "boucle", {"customer_name": "Léa"})
    for n in range(1, passes + 1):
        ready = ready_for_case(case.id)
        if not ready or case.incident:
            break
        case = cases.complete_task(manager, ready[0].id, {"again": True, "note": str(n)})
    return case


def test_library_stall_becomes_an_incident(loops, monkeypatch):
    lower_iterator_limit(monkeypatch, 60)
    monkeypatch.setattr(CaseWorkflow, "compaction", False)

    # Without the guard, SpiffWorkflow loses the ready task past the iterators' depth: the case, which loops
    # forever ("again" is always true), is reported completed, silently.
    with monkeypatch.context() as m:
        m.setattr(engine_compaction, "depth_problem", lambda wf: None)
        silent = loop_until_stuck(40)
    assert silent.completed and silent.incident is None and ready_for_case(silent.id) == []

    # With the guard, the case stops before the limit with a clear incident, its ready task still listed.
    guarded = loop_until_stuck(40)
    assert guarded.incident and "trop profond" in guarded.incident and "limite du moteur 60" in guarded.incident
    assert not guarded.completed
    assert [r.bpmn_id for r in ready_for_case(guarded.id)] == ["ask"]
    incidents = events(guarded, "incident")
    assert len(incidents) == 1 and incidents[0].bpmn_id == "ask"
    assert guarded.data["passes"] < 20


def test_compacted_case_never_nears_the_limit(loops, monkeypatch):
    lower_iterator_limit(monkeypatch, 60)
    case = loop_until_stuck(100)
    assert case.incident is None and case.data["passes"] == 100
    assert [r.bpmn_id for r in ready_for_case(case.id)] == ["ask"]


# --- the real complaint process: a long re-examination loop with an overdue timer on every pass ---------------

ANALYSE = {"facts": "Frais facturés deux fois.", "systemic": "no", "needs_information": "no"}
DECIDE = {"decision": "partly", "response_text": "Nous vous remboursons une partie des frais."}
COMPLAINT = {"channel": "letter", "origin": "external_customer", "kind": "complaint", "customer_name": "Martine",
             "customer_email": "martine@example.fr", "description": "Frais facturés deux fois.", "written": "yes"}


def reexamine(case: Case, passes: int, sizes: dict | None = None) -> Case:
    """Each pass: the overdue timer on Traitement fires, the responsable chases, then a new answer is contested."""
    for n in range(1, passes + 1):
        clock.advance(days=16)
        assert cases.fire_due_timers() == [case.reference], n
        assert ready_ids(case) == ["ut_analyse", "ut_overdue"], n
        case = complete(case, "ut_overdue", "responsable", {"overdue_action": "remind" if n % 2 else "holding_letter",
                                                             "overdue_comment": f"passe {n}"})
        case = complete(case, "ut_analyse", "service", {**ANALYSE, "facts": f"Analyse {n}"})
        case = complete(case, "ut_decide", "gestionnaire", DECIDE)
        assert case.status == "answered"
        case = complete(case, "ut_reaction", "gestionnaire", {"reaction": "contests", "payment_blocked": "no",
                                                              "reaction_on": clock.now().date().isoformat()})
        assert ready_ids(case) == ["ut_analyse"] and case.incident is None, n
        if sizes is not None:
            sizes[n] = state_size(case)
    return case


def run_complaint(passes: int, sizes: dict | None = None) -> Case:
    case = cases.start_case(user("accueil"), "reclamation", dict(COMPLAINT))
    case = complete(case, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing",
                                                         "severity": "high"})
    case = reexamine(case, passes, sizes)
    case = complete(case, "ut_analyse", "service", ANALYSE)
    case = complete(case, "ut_decide", "gestionnaire", DECIDE)
    case = complete(case, "ut_reaction", "gestionnaire", {"reaction": "satisfied", "payment_blocked": "no",
                                                          "reaction_on": clock.now().date().isoformat()})
    assert ready_ids(case) == ["ut_survey"] and case.status == "closed"
    clock.advance(days=31)
    assert cases.fire_due_timers() == [case.reference]
    return db.session.get(Case, case.id)


def test_complaint_reexamined_many_times_keeps_a_small_state(deployed):
    sizes = {}
    case = run_complaint(40, sizes)
    assert case.completed and ready_for_case(case.id) == [] and case.incident is None
    assert case.data["overdue_comment"] == "passe 40" and case.data["facts"] == ANALYSE["facts"]
    assert len(events(case, "timer_fired")) == 41  # 40 overdue timers and the survey timeout
    assert task_counts(case) == {"completed": 1 + 40 * 4 + 3, "cancelled": 1}  # the survey, interrupted
    assert sizes[40] < sizes[5] * 1.5, sizes  # only the list of letters sent grows
    assert verify_case(case) == []


def test_complaint_loop_behaves_as_without_compaction(deployed, monkeypatch):
    def trail(case):
        return [(e.type, e.bpmn_id, [p["bpmn_id"] for p in e.data.get("path", [])], e.data.get("changes"))
                for e in audit.history(case.id)]

    compacted = run_complaint(4)
    monkeypatch.setattr(CaseWorkflow, "compaction", False)
    clock.set_now(START)  # the same inputs at the same moments
    raw = run_complaint(4)
    assert trail(compacted)[:-1] == trail(raw)[:-1]
    # The last step ends the case: the end join merges the data of the 4 overdue branches that ended. The
    # compacted case folded them ahead of time; SpiffWorkflow's list merge (DeepMerge.merge_array, which drops
    # repeated items) is not associative, so only the list of letters sent may differ, nothing else.
    last_compacted, last_raw = trail(compacted)[-1], trail(raw)[-1]
    assert last_compacted[:3] == last_raw[:3]
    assert {k: v for k, v in last_compacted[3].items() if k != "messages_sent"} == \
        {k: v for k, v in last_raw[3].items() if k != "messages_sent"}
    assert {k: v for k, v in compacted.data.items() if k != "messages_sent"} == \
        {k: v for k, v in raw.data.items() if k != "messages_sent"}
