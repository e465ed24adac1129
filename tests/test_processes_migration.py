"""Compare versions and migrate running cases, on the real reclamation process."""

from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, TaskRow, WorkflowStateArchive
from app.services.core import audit
from tests.support import flows
from tests.support.flows import deploy, upload

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

ROOT = Path(__file__).resolve().parent.parent
RECLAMATION = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
QUALIFY = {"admissible": "yes", "severity": "medium", "category": "billing", "qualification_comment": "Recevable."}


def changed_reclamation() -> str:
    """A real change: rename a task, move one to another lane, add a form field, change a condition."""
    xml = RECLAMATION.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer la réclamation"')
    xml = xml.replace("<bpmn:flowNodeRef>ut_capa</bpmn:flowNodeRef>", "")
    xml = xml.replace("<bpmn:flowNodeRef>ut_overdue</bpmn:flowNodeRef>",
                      "<bpmn:flowNodeRef>ut_overdue</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>ut_capa"
                      "</bpmn:flowNodeRef>")
    xml = xml.replace('<camunda:formField id="qualification_comment"',
                      '<camunda:formField id="contact_attempts" label="Tentatives de contact" type="long" />\n'
                      '          <camunda:formField id="qualification_comment"')
    xml = xml.replace("systemic == \"yes\"</bpmn:conditionExpression>",
                      "systemic == \"yes\" or severity == \"critical\"</bpmn:conditionExpression>")
    assert xml.count("contact_attempts") == 1 and 'severity == "critical"' in xml
    return xml


def test_compare_lists_each_kind_of_change_with_waiting_cases(api, deployed):
    waiting = flows.start(api, **flows.complaint_data())
    assert [t["bpmn_id"] for t in waiting["tasks"]] == ["ut_qualify"]
    draft = upload(api, "proprietaire", changed_reclamation())
    body = api.get("auditeur", f"/api/process-definitions/reclamation/{draft['ref']}/compare").get_json()
    kinds = {(c["element"], c["kind"]): c for c in body["changes"]}
    renamed = kinds[("ut_qualify", "renamed")]
    assert "Qualifier et classer la réclamation" in renamed["message"] and renamed["waiting"] == 1
    assert "« qualite » → « responsable »" in kinds[("ut_capa", "moved")]["message"]
    assert "contact_attempts" in kinds[("ut_qualify", "form")]["message"]
    assert kinds[("ut_qualify", "form")]["message"].startswith("Champ ajouté")
    flow = [c for c in body["changes"] if c["kind"] == "condition"]
    assert [c["element"] for c in flow] == ["f_systemic_yes"] and "critical" in flow[0]["message"]
    assert body["impacted_cases"] == 1 and body["base"]["version"] == 1 and body["other"]["status"] == "draft"
    assert not any(c["kind"] in ("added", "removed") for c in body["changes"])


def test_compare_removed_and_added_elements(api, deployed):
    xml = RECLAMATION.replace('id="bt_survey_timeout"', 'id="bt_survey_late"').replace(
        'attachedToRef="ut_survey"', 'attachedToRef="ut_survey"')
    draft = upload(api, "proprietaire", xml.replace('sourceRef="bt_survey_timeout"', 'sourceRef="bt_survey_late"')
                   .replace('bpmnElement="bt_survey_timeout"', 'bpmnElement="bt_survey_late"'))
    body = api.get("proprietaire", f"/api/process-definitions/reclamation/{draft['ref']}/compare").get_json()
    kinds = {(c["element"], c["kind"]) for c in body["changes"]}
    assert ("bt_survey_timeout", "removed") in kinds and ("bt_survey_late", "added") in kinds


def test_compare_timer_change(api, deployed):
    draft = upload(api, "proprietaire", RECLAMATION.replace('"P30D"</bpmn:timeDuration>', '"P20D"</bpmn:timeDuration>'))
    body = api.get("gestionnaire", f"/api/process-definitions/reclamation/{draft['ref']}/compare").get_json()
    assert [(c["element"], c["kind"], c["message"]) for c in body["changes"]] == [
        ("bt_survey_timeout", "timer", 'Minuteur : « "P30D" » → « "P20D" ».')]


def test_migrate_a_case_then_finish_it_on_the_new_version(api, deployed):
    case = flows.start(api, **flows.complaint_data())
    draft = upload(api, "proprietaire", changed_reclamation())
    v2 = deploy(api, "proprietaire", "reclamation", draft["ref"])
    listing = api.get("proprietaire", "/api/process-definitions/reclamation/migrations").get_json()
    assert listing["target"]["version"] == 2
    entry = next(c for c in listing["cases"] if c["reference"] == case["reference"])
    assert entry["ok"] is True and entry["from_version"] == 1
    assert entry["steps"] == [{"bpmn_id": "ut_qualify", "before": "Qualifier la réclamation",
                               "after": "Qualifier et classer la réclamation"}]
    old_task_id = case["tasks"][0]["id"]

    # auditors and handlers may look, not migrate
    resp = api.post("auditeur", "/api/process-definitions/reclamation/migrations", json={"cases": [case["reference"]]})
    assert resp.status_code == 403
    resp = api.post("proprietaire", "/api/process-definitions/reclamation/migrations",
                    json={"cases": [case["reference"], "REC-1999-000001"]})
    assert resp.status_code == 200
    results = {r["reference"]: r for r in resp.get_json()["results"]}
    assert results[case["reference"]]["migrated"] is True and results["REC-1999-000001"]["migrated"] is False

    after = flows.case(api, case["reference"])
    assert after["version"] == 2
    assert [(t["id"], t["name"]) for t in after["tasks"]] == [(old_task_id, "Qualifier et classer la réclamation")]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == case["reference"],
                                                        AuditEvent.type == "case_migrated")).one()
    v1_id = next(v["id"] for v in api.get("admin", "/api/process-definitions/reclamation/versions")
                 .get_json()["versions"] if v["version"] == 1)
    assert {k: event.data[k] for k in ("from_definition_id", "to_definition_id", "from_version", "to_version")} \
        == {"from_definition_id": v1_id, "to_definition_id": v2["id"], "from_version": 1, "to_version": 2}
    assert audit.verify(case["reference"]) == []
    archive = db.session.scalars(select(WorkflowStateArchive)).one()
    assert archive.to_definition_id == v2["id"] and archive.definition_id == event.data["from_definition_id"]
    assert archive.archived_by == "proprietaire" and "ut_qualify" in archive.state
    archived = api.get("auditeur", f"/api/cases/{case['reference']}/workflow-archives").get_json()["archives"]
    assert [(a["definition_id"], a["to_definition_id"]) for a in archived] == [(v1_id, v2["id"])]
    assert isinstance(archived[0]["state"]["tasks"], dict)

    # the new form field exists on the migrated task, and the case runs to its next steps on version 2
    task = api.get("gestionnaire", f"/api/tasks/{old_task_id}").get_json()
    assert "contact_attempts" in [f["name"] for f in task["form"]]
    flows.do(api, case["reference"], "ut_qualify", "gestionnaire", {**QUALIFY, "contact_attempts": 2})
    moved = flows.case(api, case["reference"])
    assert moved["version"] == 2 and moved["data"]["contact_attempts"] == 2
    assert [t["bpmn_id"] for t in moved["tasks"]] == ["ut_analyse"]
    rows = db.session.scalars(select(TaskRow).where(TaskRow.case_reference == case["reference"])).all()
    assert {(r.bpmn_id, r.state) for r in rows} == {("ut_qualify", "completed"), ("ut_analyse", "ready")}


def test_case_past_a_changed_condition_cannot_move(api, deployed):
    case = flows.start(api, **flows.complaint_data())
    # gw_written is already passed: changing its outgoing condition changes a completed step
    xml = RECLAMATION.replace('written == "yes"</bpmn:conditionExpression>',
                              'written == "yes" and channel != "phone"</bpmn:conditionExpression>')
    draft = upload(api, "proprietaire", xml)
    deploy(api, "proprietaire", "reclamation", draft["ref"])
    listing = api.get("proprietaire", "/api/process-definitions/reclamation/migrations").get_json()
    entry = next(c for c in listing["cases"] if c["reference"] == case["reference"])
    assert entry["ok"] is False and any("gw_written" in r for r in entry["reasons"])
    resp = api.post("admin", "/api/process-definitions/reclamation/migrations", json={"cases": [case["reference"]]})
    assert resp.get_json()["results"][0]["migrated"] is False
    assert flows.case(api, case["reference"])["version"] == 1
    assert db.session.scalars(select(WorkflowStateArchive)).first() is None
    assert "case_migrated" not in flows.history_types(api, case["reference"])


def test_case_in_incident_is_not_migrated(api, deployed):
    from app.models import Case

    case = flows.start(api, **flows.complaint_data())
    row = db.session.scalars(select(Case).where(Case.reference == case["reference"])).one()
    row.incident = "Gestionnaire en erreur"
    db.session.commit()
    draft = upload(api, "proprietaire", RECLAMATION.replace('name="Qualifier la réclamation"', 'name="Qualifier"'))
    deploy(api, "proprietaire", "reclamation", draft["ref"])
    entry = api.get("proprietaire", "/api/process-definitions/reclamation/migrations").get_json()["cases"][0]
    assert entry["ok"] is False and "incident" in entry["reasons"][0]
    result = api.post("proprietaire", "/api/process-definitions/reclamation/migrations",
                      json={"cases": [case["reference"]]}).get_json()["results"][0]
    assert result["migrated"] is False and "incident" in result["message"]
