"""User code under budgets: scripts, conditions and timer expressions that never end, grow without bound or
produce what cannot be stored end their step in an incident on that case only, naming the element."""

import sqlite3

import pytest
from sqlalchemy import select, text

from app import clock
from app.engine import sandbox
from app.extensions import db
from app.models import AuditEvent, Case, TaskRow, WorkflowState
from app.services.cases import lifecycle as cases
from app.services.core import definitions
from app.services.people.users import by_username
from tests.support.processes import process, script, timer

ELEMENT = "Calculer"


def deploy(xml: str, name: str = "test.bpmn") -> None:
    definitions.deploy_xml(xml, "test", name)
    db.session.commit()


def start(key: str, **data) -> Case:
    return cases.start_case(by_username("gestionnaire"), key, data)


def ready(case_id: int) -> list[str]:
    return [r.bpmn_id for r in db.session.scalars(select(TaskRow).where(TaskRow.case_id == case_id,
                                                                          TaskRow.state == "ready"))]


def incident_event(case_id: int) -> AuditEvent:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                       AuditEvent.type == "incident")).one()


@pytest.fixture
def scripted(users):
    """Deploy `budget_test`: a first script that stands, then « Calculer » running `code` on n, then a user task."""
    def make(code: str, key: str = "budget_test"):
        deploy(process(key, [script("Préparer", "prepared = True"), script(ELEMENT, code)], {"n": "long"}))
        return key
    return make


# Each of these passes the deploy check (the unbounded part depends on the data) and must be stopped at run time.
RUNAWAY = {
    "infinite loop": ("while n:\n    pass", "budget de temps (200 ms)"),
    "huge power": ("x = n ** n ** n", "budget de temps (200 ms)"),
    "huge repetition": ("x = 'a' * (n ** 10)", "budget de mémoire (64 Mo)"),
    "deep recursion": ("f = lambda k: k if k > 10 ** n else f(k + 1)\nx = f(0)", "récursion trop profonde"),
    "huge comprehension": ("x = [i for i in range(n ** 9)]", "budget de"),
}


@pytest.mark.parametrize("name", sorted(RUNAWAY))
def test_runaway_script_ends_in_an_incident_naming_the_element(scripted, name):
    code, expected = RUNAWAY[name]
    key = scripted(code)
    case = start(key, n=10)
    assert case.incident.startswith(f"Le script de l'élément « {ELEMENT} »"), case.incident
    assert expected in case.incident
    assert incident_event(case.id).bpmn_id == "s1"
    assert ready(case.id) == [] and "x" not in case.data  # nothing half-written
    assert case.data["prepared"] is True  # the step before it stands
    other = start(key, n=0)  # the next case (and the same element with bounded data) runs normally
    assert other.incident is None and ready(other.id) == ["s2"]


def test_budgets_are_configurable(scripted, monkeypatch):
    monkeypatch.setattr(sandbox.BUDGET, "time_ms", 50)
    case = start(scripted("while n:\n    pass"), n=1)
    assert "budget de temps (50 ms)" in case.incident


def test_runaway_condition_and_timer_expression_are_incidents_too(users):
    condition = (
        '<bpmn:exclusiveGateway id="{id}" name="Montant élevé ?" default="{id}_no">{io}'
        '<bpmn:outgoing>{id}_yes</bpmn:outgoing><bpmn:outgoing>{id}_no</bpmn:outgoing></bpmn:exclusiveGateway>')
    xml = process("cond_test", [], {"n": "long"}).replace(
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="s0"/>',
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>'
        '<bpmn:exclusiveGateway id="gw" name="Montant élevé ?" default="f_no"><bpmn:incoming>f0</bpmn:incoming>'
        '<bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>'
        '<bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="s0"><bpmn:conditionExpression>'
        'n ** n ** n &gt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '<bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="s0"/>').replace(
        "<bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing></bpmn:userTask>",
        "<bpmn:incoming>f_yes</bpmn:incoming><bpmn:incoming>f_no</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>"
        "</bpmn:userTask>").replace('<bpmn:flowNodeRef>s0</bpmn:flowNodeRef>',
                                    '<bpmn:flowNodeRef>s0</bpmn:flowNodeRef><bpmn:flowNodeRef>gw</bpmn:flowNodeRef>')
    assert condition  # (the gateway is written inline above)
    deploy(xml)
    case = start("cond_test", n=10)
    assert case.incident.startswith("La condition « n ** n ** n > 0 » de l'élément « Montant élevé ? »")
    assert "budget de temps" in case.incident and ready(case.id) == []

    deploy(process("timer_test", [timer("Attendre", '"PT" + str(n ** n ** n) + "S"')], {"n": "long"}))
    case = start("timer_test", n=10)
    assert case.incident.startswith("L'expression du minuteur « Attendre »") and "budget de temps" in case.incident


UNSTORABLE = {
    "set": ("x = {n, 2}", "type « set »"),
    "bytes": ("x = b'abc'", "type « bytes »"),
    "range": ("x = range(n)", "type « range »"),
    "generator": ("x = (i for i in [n])", "generator"),
    "long integer": ("x = n ** 5000", "4 300 chiffres"),
    "self-containing dict": ("x = {}\nx['x'] = x", "se contient elle-même"),
}


@pytest.mark.parametrize("name", sorted(UNSTORABLE))
def test_unstorable_value_is_an_incident_not_a_server_error(scripted, api, name):
    code, expected = UNSTORABLE[name]
    key = scripted(code)
    resp = api.post("gestionnaire", "/api/cases", json={"process": key, "data": {"n": 10}})
    assert resp.status_code == 201, resp.get_json()
    case = cases.get_case(resp.get_json()["reference"])
    assert case.incident.startswith(f"Le script de l'élément « {ELEMENT} »") and expected in case.incident
    assert "x" not in case.data and ready(case.id) == []
    assert db.session.get(WorkflowState, case.id).state  # the state before the script is stored


def test_script_data_over_the_cap_is_an_incident_and_nothing_is_stored(scripted, monkeypatch):
    from app.engine import scripting

    monkeypatch.setattr(scripting.Limits, "data_max_bytes", 10_000)
    case = start(scripted("x = 'a' * (n * 1000)"), n=20)
    assert "données trop volumineuses" in case.incident and "9 Ko au maximum" in case.incident
    assert "x" not in case.data
    assert len(db.session.get(WorkflowState, case.id).state) < 10_000


def test_user_data_over_the_cap_is_a_422_and_nothing_is_stored(users, api, monkeypatch):
    from app.engine import scripting

    texts = {"a": "string", "b": "string", "c": "string"}  # each field is capped at 10,000 characters
    deploy(process("text_test", [], texts, end_fields={"a2": "string", "b2": "string"}))
    monkeypatch.setattr(scripting.Limits, "data_max_bytes", 10_000)
    resp = api.post("gestionnaire", "/api/cases", json={"process": "text_test",
                                                        "data": dict.fromkeys(texts, "a" * 9000)})
    assert resp.status_code == 422
    assert "Données trop volumineuses (26 Ko ; 9 Ko au maximum par étape)" in resp.get_json()["errors"]["data"]
    assert db.session.scalar(select(Case.id)) is None
    ok = api.post("gestionnaire", "/api/cases", json={"process": "text_test", "data": {"a": "a" * 1000}})
    assert ok.status_code == 201
    task_id = db.session.scalar(select(TaskRow.id).where(TaskRow.state == "ready"))
    big = api.post("gestionnaire", f"/api/tasks/{task_id}/complete",
                   json={"data": {"a2": "b" * 9000, "b2": "b" * 9000}})
    assert big.status_code == 422 and big.get_json()["error"].startswith("Données trop volumineuses (17 Ko")
    db.session.expire_all()
    assert db.session.get(TaskRow, task_id).state == "ready"
    assert "a2" not in db.session.scalar(select(Case)).data


def test_timer_pass_goes_on_after_a_poisoned_case(users):
    """Poisoned cases first in the queue (earliest timers): the pass marks them and fires the next ones."""
    deploy(process("after_timer", [timer("Attendre", '"PT1H"'), script(ELEMENT, "x = {n} if n else n + 1")],
                   {"n": "long"}))
    poisoned = start("after_timer", n=3)  # its script stores a set after the timer
    clock.advance(minutes=1)
    unreadable = start("after_timer", n=0)
    db.session.execute(text("UPDATE workflow_state SET state = :s WHERE case_id = :i"),
                       {"s": "{corrupted", "i": unreadable.id})
    db.session.commit()
    clock.advance(minutes=1)
    fine = [start("after_timer", n=0) for _ in range(2)]
    refs = {c.id: c.reference for c in [poisoned, unreadable, *fine]}
    clock.advance(hours=2)
    fired = cases.fire_due_timers()
    db.session.expire_all()
    assert sorted(fired) == sorted([refs[poisoned.id]] + [refs[c.id] for c in fine])
    assert "impossible à enregistrer" in db.session.get(Case, poisoned.id).incident
    assert db.session.get(Case, unreadable.id).incident.startswith("Minuteur non déclenché")
    for case in fine:
        row = db.session.get(Case, case.id)
        assert row.incident is None and row.data["x"] == 1 and ready(case.id) == ["s2"]
    assert incident_event(unreadable.id).actor == "system"
    assert cases.fire_due_timers() == []  # the poisoned ones left the queue (in incident)


def test_no_write_lock_is_held_while_a_script_runs(scripted, backend, app, monkeypatch):
    """While a (slow but within budget) script runs at case start, another connection can write at once."""
    key = scripted("x = n + 1")
    start(key, n=1)  # creates the reference counter row
    db.session.commit()
    real_run, writes = sandbox.run, []

    def run_then_write(mode, source, context, external, budget):
        if source == "x = n + 1":
            writes.append(other_connection_write(app, backend))
        return real_run(mode, source, context, external, budget)

    monkeypatch.setattr(sandbox, "run", run_then_write)
    case = start(key, n=2)
    assert writes == ["ok"] and case.incident is None and case.data["x"] == 3


def other_connection_write(app, backend) -> str:
    """Take the writes a concurrent case start would: the reference counter, with no wait allowed."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if backend == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)
        try:
            conn.execute("UPDATE sequence_counter SET value = value + 0")
            conn.commit()
        except sqlite3.OperationalError as exc:
            return str(exc)
        finally:
            conn.close()
        return "ok"
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '100ms'"))
            conn.execute(text("UPDATE sequence_counter SET value = value + 0"))
    except Exception as exc:  # noqa: BLE001 - the lock timeout is the failure this test looks for
        return str(exc)
    finally:
        engine.dispose()
    return "ok"


def test_replay_of_a_runaway_case_runs_under_the_same_budget(scripted, runner):
    from app.services.audit.verification import verify_case

    key = scripted("while n:\n    pass")
    runaway, fine = start(key, n=1), start(key, n=0)
    db.session.commit()
    assert verify_case(runaway) == [] and verify_case(fine) == []  # replayed: the same incident, in bounded time
    result = runner.invoke(args=["audit", "replay", "--all"])
    assert result.exit_code == 0 and "Dossiers rejoués : 2, conformes : 2" in result.output


def test_the_worker_is_a_second_wall_behind_the_ast_check():
    """Even code that skipped the deploy check finds no import in the worker, and the server unpickles only
    plain values from it."""
    import os
    import pickle

    with pytest.raises(sandbox.ScriptFailed, match="NameError"):
        sandbox.run("eval", "__import__('os').getpid()", {}, None, sandbox.StepBudget())
    with pytest.raises(pickle.UnpicklingError, match="posix.system"):
        sandbox.loads_answer(pickle.dumps(os.system))
    plain = {"when": clock.now(), "tags": {"a"}, "n": 10 ** 50}
    assert sandbox.loads_answer(pickle.dumps(plain)) == [plain]
    assert sandbox.run("exec", "y = n + 1", {"n": 1, "when": clock.now()}, None, sandbox.StepBudget())["y"] == 2
