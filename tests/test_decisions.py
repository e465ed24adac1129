"""Decision tables (DMN): a table decides a step of reclamation.bpmn, versioned and pinned with the BPMN."""

from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.support.flows import case, complaint_data, do, start

ROOT = Path(__file__).resolve().parent.parent
TABLE = (ROOT / "processes" / "service_par_categorie.dmn").read_text(encoding="utf-8")
XML = {"Content-Type": "application/xml"}
QUALIFY = {"admissible": "yes", "category": "delivery", "severity": "medium"}


def put_decision(api, ref, dmn, expect=201, filename="service_par_categorie.dmn"):
    resp = api.post("proprietaire", f"/api/process-definitions/reclamation/{ref}/decisions?filename={filename}",
                    data=dmn.encode("utf-8"), headers=dict(XML))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def test_the_table_decides_the_department(api, deployed):
    versions = api.get("proprietaire", "/api/process-definitions/reclamation/versions").get_json()["versions"]
    assert versions[0]["decisions"] == ["service_par_categorie.dmn"]  # deployed from processes/ with the BPMN
    chosen = start(api, **complaint_data())["reference"]
    do(api, chosen, "ut_qualify", "gestionnaire", {**QUALIFY, "department": "sales"})
    assert case(api, chosen)["department"] == "sales"  # the qualifier's choice wins (first rule)
    for category, department in (("delivery", "logistics"), ("product", "technical"), ("staff", "customer_service"),
                                 ("billing", "billing")):
        ref = start(api, **complaint_data())["reference"]
        do(api, ref, "ut_qualify", "gestionnaire", {**QUALIFY, "category": category})
        assert case(api, ref)["department"] == department, category
    history = api.get("auditeur", f"/api/cases/{ref}/history").get_json()
    assert "br_department" in str(history)  # the decision step is on the audit trail


def test_a_new_table_is_a_new_version_and_running_cases_keep_theirs(api, deployed):
    old_case = start(api, **complaint_data())["reference"]
    changed = TABLE.replace('<text>"technical"</text>', '<text>"sales"</text>')  # not covered by the owner tests
    body = put_decision(api, "1", changed)
    assert body["status"] == "draft" and body["decisions"] == ["service_par_categorie.dmn"]
    compare = api.get("proprietaire", f"/api/process-definitions/reclamation/{body['ref']}/compare").get_json()
    rules = [c for c in compare["changes"] if c["element"] == "service_par_categorie"]
    assert len(rules) == 1 and "Règle 4 modifiée" in rules[0]["message"] and '"sales"' in rules[0]["message"]
    resp = api.post("proprietaire", f"/api/process-definitions/reclamation/{body['ref']}/deploy")
    assert resp.status_code == 201 and resp.get_json()["version"] == 2
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "definition_deployed")
                               .order_by(AuditEvent.id.desc())).first()
    assert set(event.data["decisions"]) == {"service_par_categorie.dmn"}

    new_case = start(api, **complaint_data())["reference"]
    do(api, old_case, "ut_qualify", "gestionnaire", {**QUALIFY, "category": "product"})
    do(api, new_case, "ut_qualify", "gestionnaire", {**QUALIFY, "category": "product"})
    assert case(api, old_case)["department"] == "technical"  # pinned to v1 and its table
    assert case(api, new_case)["department"] == "sales"
    stored = api.get("proprietaire", "/api/process-definitions/reclamation/1/decisions/service_par_categorie.dmn")
    assert '"technical"' in stored.get_data(as_text=True)


@pytest.mark.parametrize("change, words", [
    (('hitPolicy="FIRST"', 'hitPolicy="PRIORITY"'), "PRIORITY"),
    (('hitPolicy="FIRST"', 'hitPolicy="COLLECT" aggregation="SUM"'), "SUM"),
    (('<text>"delivery"</text>', '<text>matches(x, "a")</text>'), "Règle 3"),
    (('<text>category</text>', "<text>__import__('os')</text>"), "Entrée « Catégorie »"),
    (('<text>"technical"</text>', "<text>1 +</text>"), "Règle 4"),
])
def test_hit_policy_and_inputs_are_checked_at_deploy(api, deployed, change, words):
    body = put_decision(api, "1", TABLE.replace(*change), expect=422)
    assert any(words in e["message"] and e["element"] == "service_par_categorie" for e in body["errors"]), body
    versions = api.get("proprietaire", "/api/process-definitions/reclamation/versions").get_json()["versions"]
    assert [v["status"] for v in versions] == ["deployed"]  # nothing saved


def test_missing_table_and_missing_reference_are_named(api, deployed):
    from app.services.processes.validation import validate

    xml = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
    _, problems = validate(xml)
    assert [(p.element, "introuvable" in p.message) for p in problems] == [("br_department", True)]
    _, problems = validate(xml.replace(' camunda:decisionRef="service_par_categorie"', ""))
    assert [(p.element, "camunda:decisionRef" in p.message) for p in problems] == [("br_department", True)]


def test_miwg_business_rule_tasks_say_what_is_missing():
    from app.services.processes.validation import validate

    for name in ("C.8.1.bpmn", "C.9.0.bpmn"):
        xml = (ROOT / "tests" / "miwg" / name).read_text(encoding="utf-8")
        _, problems = validate(xml)
        rule_tasks = [p for p in problems if "Tâche de règle métier sans table de décision" in p.message]
        assert rule_tasks, (name, problems)
        assert all(f'id="{p.element}"' in xml for p in rule_tasks)
        called = "risk_check" if name == "C.9.0.bpmn" else "_9ba1b7b0-c84d-484f-9203-3792edc6dcbd"
        assert f"la décision « {called} »" in rule_tasks[0].message
    _, problems = validate((ROOT / "tests" / "miwg" / "C.9.0.bpmn").read_text(encoding="utf-8"))
    feel = {p.element: p for p in problems if "FEEL" in p.message}
    assert feel["SequenceFlow_ApplicationAccepted"].level == "info"  # = approved: translated
    assert "« approved »" in feel["SequenceFlow_ApplicationAccepted"].message
    assert feel["SequenceFlow_Red"].level == "error" and "some" in feel["SequenceFlow_Red"].message
