"""The engine's own task and workflow converters (app/engine/serialization.py) write and read exactly the
library's format: at every step of real processes, the stored state is the same text as SpiffWorkflow's own
converters give, and each side loads what the other wrote. Task ids are parsed and formatted faster, with the
same values."""

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG

from app import clock
from app.engine import CaseWorkflow, StepContext, parse_definition, serialization
from app.services.core.handlers import HANDLERS

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class LibraryConverter(BpmnWorkflowConverter):
    """The spec-less workflow converter on the library's own task, subprocess and mapping code."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
LibraryConverter(BpmnWorkflow, _registry)
LIBRARY = BpmnWorkflowSerializer(_registry)


class Context(StepContext):
    reference = "REC-2026-000001"
    has_parent = False
    utc = UTC

    def now(self):
        return clock.now()

    def call_handler(self, topic, properties, data, bpmn_id):
        return HANDLERS[topic](self, properties, data)

    def send_message(self, template, data): pass
    def clock(self, action, **values): pass
    def notify(self, props): pass
    def start_child_case(self, process, data): return "LIT-2026-000001"
    def message_parent(self, name, payload): pass
    def record_actions(self, specs): pass


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.set_now(START)
    yield
    clock.set_now(None)


def spec(path: str):
    folder = (ROOT / path).parent
    decisions = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.dmn"))} or None
    return parse_definition((ROOT / path).read_bytes(), None, decisions=decisions)


def library_load(pspec, text: str):
    dct = json.loads(text)
    dct.pop(LIBRARY.VERSION_KEY, None)
    return LIBRARY.from_dict(dct, spec=pspec.spec, subprocess_specs=pspec.subprocess_specs)


def same_as_library(pspec, workflow: CaseWorkflow) -> CaseWorkflow:
    """Ours and the library's write the same text; each loads the other's, and writes it back unchanged."""
    ours = workflow.dump()
    assert ours == LIBRARY.serialize_json(workflow.wf)
    assert LIBRARY.serialize_json(library_load(pspec, ours)) == ours
    restored = CaseWorkflow.load(pspec, ours, Context())
    assert restored.dump() == ours
    assert sorted(t.bpmn_id for t in restored.ready_tasks()) == sorted(t.bpmn_id for t in workflow.ready_tasks())
    return restored


def ready_id(workflow, bpmn_id):
    return next(t.id for t in workflow.ready_tasks() if t.bpmn_id == bpmn_id)


def test_complaint_with_its_subprocess_is_stored_as_the_library_stores_it():
    pspec = spec("processes/reclamation.bpmn")
    data = {"channel": "letter", "origin": "external_customer", "kind": "complaint", "written": "yes",
            "customer_name": "Martine Lefèvre", "customer_email": "martine@example.fr",
            "description": "Frais facturés deux fois.", "received_at": START.isoformat()}
    workflow, result = CaseWorkflow.start(pspec, data, Context())
    assert result.error is None
    steps = [("ut_qualify", {"admissible": "yes", "category": "billing", "severity": "high"}),
             ("ut_analyse", {"facts": "Frais facturés deux fois.", "systemic": "no", "needs_information": "no"}),
             ("ut_decide", {"decision": "accepted", "response_text": "Nous vous remboursons."}),
             ("ut_reaction", {"reaction": "satisfied", "reaction_on": "2026-11-25", "payment_blocked": "no"}),
             ("ut_survey", {"satisfaction_score": 4})]
    subprocess_seen = False
    for bpmn_id, values in steps:
        workflow = same_as_library(pspec, workflow)
        subprocess_seen |= bool(workflow.wf.subprocesses)
        result = workflow.complete(ready_id(workflow, bpmn_id), values)
        assert result.error is None, (bpmn_id, result.error)
    workflow = same_as_library(pspec, workflow)
    assert subprocess_seen and workflow.snapshot().completed


def test_a_looping_case_with_deltas_and_deletions_is_stored_as_the_library_stores_it():
    pspec = spec("tests/bpmn/loop.bpmn")
    workflow, _ = CaseWorkflow.start(pspec, {"customer_name": "Lefèvre"}, Context())
    for n in range(12):
        workflow = same_as_library(pspec, workflow)
        task = workflow.find_ready(ready_id(workflow, "ask"))
        task.data.pop("customer_name", None)  # a deleted key: the delta's "deletions"
        workflow.complete(ready_id(workflow, "ask"), {"again": n < 11, "note": {"pass": n, "list": [n, "x"]}})
    same_as_library(pspec, workflow)


def test_task_ids_parse_and_format_like_uuid():
    for _ in range(200):
        value = uuid4()
        text = str(value)
        parsed = serialization.task_id(text)
        assert type(parsed) is UUID and parsed == value and hash(parsed) == hash(value)
        assert str(parsed) == text and parsed.is_safe == UUID(text).is_safe
        assert serialization.id_text(parsed) == text and serialization.id_text(value) == text
    value = uuid4()
    for other_form in (str(value).upper(), "{" + str(value) + "}", "urn:uuid:" + str(value), value.hex):
        parsed = serialization.task_id(other_form)
        assert parsed == value and str(parsed) == str(value)
        assert serialization.id_text(parsed) == str(value)  # never the non-canonical text
    for bad in ("", "not-a-uuid", "g" * 8 + str(value)[8:], str(value)[:-1] + "-"):
        with pytest.raises(ValueError):
            serialization.task_id(bad)
    assert serialization.id_text("not an id") == "not an id"


def test_the_id_text_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(serialization, "ID_TEXTS_MAX", 50)
    serialization.ID_TEXTS.clear()
    serialization.IDS.clear()
    ids = [uuid4() for _ in range(500)]
    assert [serialization.id_text(v) for v in ids] == [str(v) for v in ids]
    assert [serialization.task_id(str(v)) for v in ids] == ids
    assert len(serialization.ID_TEXTS) <= 50 and len(serialization.IDS) <= 50
    again = serialization.task_id(str(ids[-1]))
    assert again is serialization.task_id(str(ids[-1])) and again == ids[-1]  # one object per text
