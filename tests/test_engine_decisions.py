"""Business rule tasks evaluate their decision table once per run (the library's hook evaluated it a second
time on the same data), with the same data out for every camunda:mapDecisionResult."""

from pathlib import Path

import pytest
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from app.engine import CaseWorkflow, StepContext, parse_definition

ROOT = Path(__file__).resolve().parents[1]
DMN = {"service_par_categorie.dmn": (ROOT / "processes" / "service_par_categorie.dmn").read_text(encoding="utf-8")}
TASKS = [("br_plain", ""), ("br_entry", 'camunda:resultVariable="dept_value" camunda:mapDecisionResult="singleEntry"'),
         ("br_result", 'camunda:resultVariable="dept_row" camunda:mapDecisionResult="singleResult"'),
         ("br_collect", 'camunda:resultVariable="dept_values" camunda:mapDecisionResult="collectEntries"'),
         ("br_list", 'camunda:resultVariable="dept_rows"')]


def document() -> bytes:
    ids = ["start", *[t for t, _ in TASKS], "ut_check", "end"]
    nodes = ['<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>']
    for n, (task, attrs) in enumerate(TASKS, start=1):
        nodes.append(f'<bpmn:businessRuleTask id="{task}" camunda:decisionRef="service_par_categorie" {attrs}>'
                     f'<bpmn:incoming>f{n - 1}</bpmn:incoming><bpmn:outgoing>f{n}</bpmn:outgoing>'
                     '</bpmn:businessRuleTask>')
    last = len(TASKS)
    nodes.append(f'<bpmn:userTask id="ut_check" name="Vérifier"><bpmn:incoming>f{last}</bpmn:incoming>'
                 f'<bpmn:outgoing>f{last + 1}</bpmn:outgoing></bpmn:userTask>')
    nodes.append(f'<bpmn:endEvent id="end"><bpmn:incoming>f{last + 1}</bpmn:incoming></bpmn:endEvent>')
    flows = [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
             for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False))]
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://bpmn.io/schema/bpmn">'
            '<bpmn:process id="decisions_once" name="Décisions" isExecutable="true">'
            + "".join(nodes + flows) + "</bpmn:process></bpmn:definitions>").encode()


@pytest.fixture
def counted(monkeypatch):
    calls = []
    original = DMNEngine.result

    def result(self, task):
        calls.append(task.task_spec.name)
        return original(self, task)

    monkeypatch.setattr(DMNEngine, "result", result)
    return calls


def test_each_mapping_gets_the_decision_evaluated_once(counted):
    pspec = parse_definition(document(), None, decisions=DMN)
    workflow, result = CaseWorkflow.start(pspec, {"category": "delivery", "department": None}, StepContext())
    assert result.error is None, result.error
    assert [t.bpmn_id for t in workflow.ready_tasks()] == ["ut_check"]
    assert counted == [t for t, _ in TASKS]  # once each, in order
    data = result.data
    assert data["department"] == "logistics"
    assert data["dept_value"] == "logistics"
    assert data["dept_row"] == {"department": "logistics"}
    assert data["dept_values"] == ["logistics"]
    assert data["dept_rows"] == [{"department": "logistics"}]
    data["dept_row"]["department"] = "changed"  # the mapped copy is not the merged output
    assert data["department"] == "logistics"
