"""Literal conditions (comparisons of variables and constants) are evaluated in-process, everything else in the
sandbox worker: same results, same errors, and hostile code still stopped by the worker's budgets."""

import pytest

from app.engine import sandbox, scripting
from app.engine.script_safety import literal_condition
from app.services.cases import lifecycle as cases
from app.services.core.definitions import deploy_files
from app.services.people.users import by_username
from app.services.tasks.actions import ready_for_case
from tests.support.flows import complaint_data
from tests.support.setup import TEST_BPMN

LITERAL = {
    'admissible == "yes"': {"admissible"},
    "amount > 1000 and kind == 'complaint'": {"amount", "kind"},
    "again": {"again"},
    "not again": {"again"},
    'channel in ("letter", "mail") or written == "yes"': {"channel", "written"},
    "-1 < score <= 5": {"score"},
    "decision is None": {"decision"},
    '"PT15M"': set(),
}
NOT_LITERAL = [
    "len(x) > 1",  # a call
    "x.upper() == 'A'",  # an attribute
    "x[0] == 1",  # a subscript
    "x + 1 > 2",  # arithmetic
    "-x < 1",  # arithmetic on data
    "n ** n ** n > 0",  # hostile arithmetic
    "x in (y, 1)",  # a collection that is not constant
    "type == 'a'",  # a builtin name
    "_secret == 1",  # a private name
    "[i for i in x] == []",  # a comprehension
    "x == b'a'",  # a constant of another type
    "x == 1 and " * 200 + "True",  # too long
    "x ==",  # not even Python
]


@pytest.fixture
def round_trips(monkeypatch):
    """Count the calls that reach the sandbox worker."""
    calls = []
    real = sandbox.POOL.call

    def counting(request, cpu):
        calls.append(request["source"])
        return real(request, cpu)

    monkeypatch.setattr(sandbox.POOL, "call", counting)
    return calls


@pytest.mark.parametrize("source", sorted(LITERAL))
def test_literal_conditions_are_recognised_with_their_variables(source):
    assert literal_condition(source) == LITERAL[source]


@pytest.mark.parametrize("source", NOT_LITERAL)
def test_anything_else_is_not_a_literal_condition(source):
    assert literal_condition(source) is None


CONTEXTS = [
    {"admissible": "yes", "amount": 1500, "kind": "complaint", "again": True, "channel": "mail",
     "written": "no", "score": 3, "decision": None},
    {"admissible": "no", "amount": 999.5, "kind": "dispute", "again": False, "channel": "phone",
     "written": "yes", "score": 6, "decision": "accepted"},
]


@pytest.mark.parametrize("data", CONTEXTS)
@pytest.mark.parametrize("source", sorted(LITERAL))
def test_in_process_value_equals_the_sandbox_value_without_a_round_trip(source, data, round_trips):
    environment = scripting.SandboxEnvironment()
    value = environment.evaluate(source, dict(data))
    assert round_trips == []  # evaluated here
    assert value == sandbox.run("eval", source, dict(data), {}, sandbox.StepBudget())  # what the worker says
    assert type(value) is type(sandbox.run("eval", source, dict(data), {}, sandbox.StepBudget()))


@pytest.mark.parametrize(("source", "data"), [
    ("amount > 1000", {}),  # a variable missing: the worker's NameError, worded as always
    ("amount > 1000", {"amount": "mille"}),  # text against a number: the worker's TypeError
    ("tags == []", {"tags": []}),  # not a plain value (a list): the worker compares it
    ("len(note) > 3", {"note": "abcd"}),  # not a literal condition at all
])
def test_errors_and_other_values_still_go_to_the_sandbox(source, data, round_trips):
    environment = scripting.SandboxEnvironment()
    try:
        expected = ("value", sandbox.run("eval", source, dict(data), {}, sandbox.StepBudget()))
    except sandbox.ScriptFailed as exc:
        expected = ("error", exc.error, exc.message)
    round_trips.clear()
    try:
        got = ("value", environment.evaluate(source, dict(data)))
    except sandbox.ScriptFailed as exc:
        got = ("error", exc.error, exc.message)
    assert got == expected
    assert round_trips == [source]


def test_a_hostile_condition_still_runs_in_the_worker_under_its_budget(monkeypatch, round_trips):
    monkeypatch.setattr(sandbox.BUDGET, "time_ms", 50)
    environment = scripting.SandboxEnvironment()
    with pytest.raises(sandbox.TimeBudgetExceeded):
        environment.evaluate("n ** n ** n > 0", {"n": 10})
    assert round_trips == ["n ** n ** n > 0"]


def test_the_loop_step_sends_only_its_script_to_the_sandbox(users, round_trips):
    deploy_files([TEST_BPMN / "loop.bpmn"], "test")
    user = by_username("gestionnaire")
    case = cases.start_case(user, "boucle", {"customer_name": "Boucle"})
    for n in range(3):
        round_trips.clear()
        case = cases.complete_task(user, ready_for_case(case.id)[0].id, {"again": n < 2, "note": "x"})
        assert round_trips == ["passes = passes + 1"]  # the gateway's condition `again`: in-process
    assert case.completed and case.data["passes"] == 3  # the condition took the right flow each time


def test_the_complaint_happy_path_gives_the_same_case_with_fewer_round_trips(deployed, round_trips):
    """The complaint process's gateways and DMN rules run in-process where they are literal: the case ends the
    same way as when every condition went to the worker."""
    steps = [("ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high"}),
             ("ut_analyse", "service", {"facts": "Frais facturés deux fois.", "systemic": "no",
                                        "needs_information": "no"}),
             ("ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Nous vous remboursons."})]

    def run() -> tuple[dict, list[str]]:
        case = cases.start_case(by_username("accueil"), "reclamation", complaint_data())
        path = []
        for bpmn_id, group, data in steps:
            row = next(r for r in ready_for_case(case.id) if r.bpmn_id == bpmn_id)
            case = cases.complete_task(by_username(group), row.id, dict(data))
            path.append(case.stage)
        facts = {k: case.data.get(k) for k in ("admissible", "decision", "category", "severity")}
        return {"status": case.status, "stage": case.stage, "due": case.due_at, "facts": facts}, path

    fast, fast_path = run()
    literal_trips = len(round_trips)
    round_trips.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scripting, "evaluate_literal", lambda *a, **k: scripting.NOT_LITERAL)  # all to the worker
        slow, slow_path = run()
    assert (fast, fast_path) == (slow, slow_path)
    assert literal_trips < len(round_trips)
