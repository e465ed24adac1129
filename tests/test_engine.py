"""The engine on its own: no Flask app, no database. Every step's state is serialized and loaded again.

Like SpiffWorkflow's own `save_restore` tests: after each step the workflow is dumped to JSON and restored,
and the restored workflow must show the same ready tasks and data and go on exactly like the original.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import has_app_context

from app import clock
from app.engine import CaseWorkflow, StepContext, parse_definition
from app.services.core.handlers import HANDLERS

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class RecordingContext(StepContext):
    """The handlers' side effects recorded instead of applied (what the service layer would persist)."""

    reference = "REC-2026-000001"
    has_parent = False
    utc = UTC

    def __init__(self):
        self.effects: list[tuple] = []

    def now(self):
        return clock.now()

    def call_handler(self, topic, properties, data, bpmn_id):
        return HANDLERS[topic](self, properties, data)

    def send_message(self, template, data):
        self.effects.append(("message", template))

    def clock(self, action, **values):
        self.effects.append(("clock", action, values.get("name")))

    def notify(self, props):
        self.effects.append(("notify", props.get("text")))

    def start_child_case(self, process, data):
        self.effects.append(("child", process))
        return "LIT-2026-000001"

    def message_parent(self, name, payload):
        self.effects.append(("parent_message", name))

    def record_actions(self, specs):
        self.effects.append(("actions", len(specs)))


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.set_now(START)
    yield
    clock.set_now(None)


def spec(path: str, key: str | None = None):
    """A parsed document, with the decision tables (DMN) shipped beside it."""
    folder = (ROOT / path).parent
    decisions = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.dmn"))} or None
    return parse_definition((ROOT / path).read_bytes(), key, decisions=decisions)


def _view(workflow: CaseWorkflow) -> tuple:
    ready = sorted((t.bpmn_id, t.lane) for t in workflow.ready_tasks())
    return ready, workflow.snapshot().data, workflow.active_elements(), workflow.next_timer_at()


def round_trip(pspec, workflow: CaseWorkflow, context) -> CaseWorkflow:
    """Dump and load the workflow; the loaded one must look exactly like the original."""
    restored = CaseWorkflow.load(pspec, workflow.dump(), context)
    assert _view(restored) == _view(workflow)
    assert restored.dump() == workflow.dump()
    return restored


def with_unticked_boxes(workflow: CaseWorkflow, task_id: str, values: dict) -> dict:
    """An optional boolean left out is an unticked box, as the service reads an HTML form."""
    form = next(t.form for t in workflow.ready_tasks() if t.id == task_id)
    return {**{f.name: False for f in form if f.type == "boolean" and not f.required and not f.readonly}, **values}


def ready_id(workflow: CaseWorkflow, bpmn_id: str) -> str:
    found = [t.id for t in workflow.ready_tasks() if t.bpmn_id == bpmn_id]
    assert len(found) == 1, [t.bpmn_id for t in workflow.ready_tasks()]
    return found[0]


def test_no_flask_app_is_needed():
    assert not has_app_context()
    for path in ("processes/reclamation.bpmn", "processes/litige.bpmn", "tests/bpmn/loop.bpmn"):
        pspec = spec(path)
        assert pspec.user_tasks and pspec.lanes


def test_loop_round_trips_after_every_step_and_goes_on_identically():
    pspec = spec("tests/bpmn/loop.bpmn")
    context = RecordingContext()
    workflow, result = CaseWorkflow.start(pspec, {"customer_name": "Lefèvre"}, context)
    assert result.error is None
    twin = round_trip(pspec, workflow, context)
    for n in range(30):
        again = n < 29
        first = workflow.complete(ready_id(workflow, "ask"), {"again": again})
        second = twin.complete(ready_id(twin, "ask"), {"again": again})  # the restored copy, in step
        assert first.error is None and second.error is None
        assert _view(workflow) == _view(twin)
        workflow = round_trip(pspec, workflow, context)
        twin = round_trip(pspec, twin, context)
    assert workflow.snapshot().completed and twin.snapshot().completed


def test_complaint_happy_path_with_real_handlers_round_trips_each_step():
    pspec = spec("processes/reclamation.bpmn")
    context = RecordingContext()
    data = {"channel": "letter", "origin": "external_customer", "kind": "complaint", "written": "yes",
            "customer_name": "Martine Lefèvre", "customer_email": "martine@example.fr",
            "description": "Frais de livraison facturés deux fois.", "received_at": START.isoformat()}
    workflow, result = CaseWorkflow.start(pspec, data, context)
    assert result.error is None and ("message", "acknowledgment") in context.effects
    assert workflow.snapshot().data["due_at"].startswith("2026-12-08")  # written: 15 calendar days
    steps = [
        ("ut_qualify", {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing",
                        "qualification_comment": "Double facturation avérée."}),
        ("ut_analyse", {"facts": "Frais facturés deux fois.", "root_cause": "Paramétrage", "curative_action": "Avoir",
                        "curative_cost": 12.5, "systemic": "no", "needs_information": "no"}),
        ("ut_decide", {"decision": "accepted", "compensation": 12.5, "response_text": "Nous vous remboursons."}),
        ("ut_reaction", {"reaction": "satisfied", "reaction_on": "2026-11-25", "payment_blocked": "no"}),
        ("ut_survey", {"satisfaction_score": 4, "satisfaction_comment": "Rapide."}),
    ]
    for bpmn_id, values in steps:
        workflow = round_trip(pspec, workflow, context)
        task_id = ready_id(workflow, bpmn_id)
        result = workflow.complete(task_id, with_unticked_boxes(workflow, task_id, values))
        assert result.error is None, (bpmn_id, result.error)
    workflow = round_trip(pspec, workflow, context)
    assert workflow.snapshot().completed
    assert [e[1] for e in context.effects if e[0] == "message"] == ["acknowledgment", "response", "closure", "survey"]


def test_a_timer_survives_the_round_trip_and_fires_after_it():
    pspec = spec("tests/bpmn/reminder_loop.bpmn")
    context = RecordingContext()
    workflow, _ = CaseWorkflow.start(pspec, {"limit": 3}, context)
    due = workflow.next_timer_at()
    assert due is not None and due > START
    workflow = round_trip(pspec, workflow, context)
    clock.set_now(due - timedelta(seconds=1))
    early = workflow.fire_timers()
    assert not [p for p in early.path if "Event" in p["type"]]  # not due yet
    clock.set_now(due + timedelta(seconds=1))
    workflow = round_trip(pspec, workflow, context)
    fired = workflow.fire_timers()
    assert fired.error is None and [p for p in fired.path if "Event" in p["type"]]
    assert fired.data["reminders"] == 1
    assert workflow.next_timer_at() > due  # the loop waits for its next reminder
    round_trip(pspec, workflow, context)
