"""Diagrams saved by Camunda Modeler 7 run as Camunda runs them, through the API, forms enforced."""

from pathlib import Path

import pytest

from app.engine.juel import JuelError, translate
from tests.support import flows

BPMN = Path(__file__).resolve().parent / "bpmn"
ACTIVITI = (BPMN / "camunda7_activiti.bpmn").read_text(encoding="utf-8")
MODERN = (BPMN / "camunda7_modern.bpmn").read_text(encoding="utf-8")
UNSUPPORTED = (BPMN / "camunda7_unsupported.bpmn").read_text(encoding="utf-8")
XML = {"Content-Type": "application/xml"}


def upload(api, xml, expect=201):
    resp = api.post("proprietaire", "/api/process-definitions", data=xml.encode("utf-8"), headers=dict(XML))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def upload_and_deploy(api, xml):
    draft = upload(api, xml)
    resp = api.post("proprietaire", f"/api/process-definitions/{draft['key']}/{draft['ref']}/deploy")
    assert resp.status_code == 201, resp.get_json()
    return draft


@pytest.mark.parametrize("juel, python", [
    ("${approved}", "approved"),
    ("${!approved}", "not approved"),
    ("${amount > 1000 && kind == 'complaint'}", "amount > 1000 and kind == 'complaint'"),
    ("#{a eq \"x\" or not b}", "a == 'x' or not b"),
    ("${!a == b}", "(not a) == b"),
    ("${a < b == c < d}", "(a < b) == (c < d)"),
    ("${x != null && y ge 2.5}", "x != None and y >= 2.5"),
    ("${(a || b) && !c}", "(a or b) and not c"),
    ("${ n lt -3 }", "n < -3"),
])
def test_juel_translation(juel, python):
    assert translate(juel) == python


@pytest.mark.parametrize("juel, words", [
    ("${order.total > 5}", "propriété"), ("${f(x)}", "appel de fonction"), ("${a + 1}", "addition"),
    ("${empty a}", "empty"), ("${a ? b : c}", "ternaire"), ("${a ==}", "incomplète"), ("${(a}", "parenthèse"),
    ("${__class__}", "nom de variable"), ("total ${a}", "sous la forme"),
])
def test_juel_outside_the_subset_is_refused(juel, words):
    with pytest.raises(JuelError, match=words):
        translate(juel)


def test_old_namespace_is_normalised_on_upload_and_runs(api, deployed):
    draft = upload(api, ACTIVITI)
    notices = {(p["element"], p["level"]) for p in draft["problems"]}
    assert ("remboursement_c7", "info") in notices  # the owner is told about the namespace
    assert any("exécutée comme « amount > 1000 and kind == 'complaint' »" in p["message"] for p in draft["problems"])
    stored = api.get("proprietaire", f"/api/process-definitions/remboursement_c7/{draft['ref']}/bpmn").get_data(
        as_text=True)
    assert "http://activiti.org/bpmn" not in stored and 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in stored
    assert "${amount &gt; 1000 &amp;&amp; kind == 'complaint'}" in stored  # the JUEL stays as drawn
    api.post("proprietaire", f"/api/process-definitions/remboursement_c7/{draft['ref']}/deploy")

    # the start form's constraints are enforced (forms were dropped with the old namespace before)
    resp = api.post("accueil", "/api/cases", json={"process": "remboursement_c7", "data": {"amount": 5000}})
    assert resp.status_code == 422 and "customer_name" in resp.get_json()["errors"]
    resp = api.post("accueil", "/api/cases", json={"process": "remboursement_c7",
                                                   "data": {"customer_name": "Lefèvre", "amount": -5}})
    assert resp.status_code == 422 and "amount" in resp.get_json()["errors"]

    big = flows.start(api, process="remboursement_c7", customer_name="Lefèvre", amount=5000, kind="complaint")
    task = flows.ready(api, big["reference"], "Activity_review")
    assert task["lane"] == "responsable"  # camunda:candidateGroups, no lane
    flows.do(api, big["reference"], "Activity_review", "responsable", {"comment": "ok"}, expect=422)  # minlength 5
    resp = api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": {"comment": "Accordé."}})
    assert resp.status_code == 403
    flows.do(api, big["reference"], "Activity_review", "responsable", {"approved": True, "comment": "Accordé."})
    assert flows.case(api, big["reference"])["completed"] is True

    small = flows.start(api, process="remboursement_c7", customer_name="Durand", amount=200, kind="complaint")
    assert flows.ready(api, small["reference"], "Activity_quick")["lane"] == "gestionnaire"
    flows.do(api, small["reference"], "Activity_quick", "gestionnaire", {})
    assert flows.case(api, small["reference"])["completed"] is True  # through the merge gateway, no default


def test_new_namespace_assignee_and_negated_condition(api, deployed):
    upload_and_deploy(api, MODERN)
    case = flows.start(api, process="validation_c7", customer_name="Martin", amount=10, kind="request")
    task = flows.ready(api, case["reference"], "Activity_quick")
    assert task["lane"] is None and task["assignee"] == "gestionnaire"  # camunda:assignee, no lane, no group
    resp = api.post("responsable", f"/api/tasks/{task['id']}/complete", json={"data": {}})
    assert resp.status_code == 403
    flows.do(api, case["reference"], "Activity_quick", "gestionnaire", {})
    assert flows.case(api, case["reference"])["completed"] is True

    refused = flows.start(api, process="validation_c7", customer_name="Martin", amount=4000, kind="complaint")
    flows.do(api, refused["reference"], "Activity_review", "responsable", {"approved": False, "comment": "Refus."})
    history = api.get("admin", f"/api/cases/{refused['reference']}/history").get_json()
    assert "Event_refused" in str(history) and "Gateway_merge" not in str(history)  # ${!approved} taken


def test_readonly_field_shows_the_case_value(app, api, deployed):
    from tests.support.pages import login

    upload_and_deploy(api, MODERN)
    case = flows.start(api, process="validation_c7", customer_name="Éloïse Martin", amount=4000, kind="complaint")
    task = flows.ready(api, case["reference"], "Activity_review")
    html = login(app, "responsable").get(f"/taches/{task['id']}").get_data(as_text=True)
    assert 'id="customer_name" name="customer_name" readonly type="text" value="Éloïse Martin"' in html
    # the value is the process's: a changed value sent back is dropped
    flows.do(api, case["reference"], "Activity_review", "responsable",
              {"customer_name": "Autre", "approved": True, "comment": "Accordé."})
    assert flows.case(api, case["reference"])["customer_name"] == "Éloïse Martin"


def test_unsupported_camunda_features_are_named_in_french(api, deployed):
    body = upload(api, UNSUPPORTED, expect=422)
    by_element = {}
    for e in body["errors"]:
        by_element.setdefault(e["element"], []).append(e["message"])
    assert set(by_element) == {"Flow_big", "StartEvent_1", "Task_java", "Task_delegate", "Task_check", "Task_script"}
    assert "camunda:formKey" in by_element["StartEvent_1"][0]
    assert "Classe Java « com.example.ReserveStock »" in by_element["Task_java"][0]
    assert "délégation" in by_element["Task_delegate"][0]
    assert "camunda:taskListener" in by_element["Task_check"][0]
    assert "groovy" in by_element["Task_script"][0]
    assert "propriété" in by_element["Flow_big"][0]
    assert all(len(m) == 1 for m in by_element.values()), by_element  # each problem once
    assert all(e["level"] == "error" for e in body["errors"])  # the async warning is not a blocking error


def test_assignment_problems_name_the_element(api, deployed):
    unknown_group = MODERN.replace('camunda:candidateGroups="responsable"', 'camunda:candidateGroups="juristes"')
    errors = upload(api, unknown_group, expect=422)["errors"]
    assert [(e["element"], "juristes" in e["message"]) for e in errors] == [("Activity_review", True)]
    unknown_user = MODERN.replace('camunda:assignee="gestionnaire"', 'camunda:assignee="jdupont"')
    errors = upload(api, unknown_user, expect=422)["errors"]
    assert [(e["element"], "jdupont" in e["message"] and "inconnu" in e["message"]) for e in errors] == [
        ("Activity_quick", True)]
    outsider = MODERN.replace('camunda:assignee="gestionnaire"',
                              'camunda:candidateGroups="finance" camunda:assignee="gestionnaire"')
    errors = upload(api, outsider, expect=422)["errors"]
    assert errors[0]["element"] == "Activity_quick" and "n'appartient pas" in errors[0]["message"]


def test_condition_reading_a_variable_nobody_writes_is_a_deploy_problem(api, deployed):
    xml = MODERN.replace("${approved}", "${accepted}")
    errors = upload(api, xml, expect=422)["errors"]
    assert errors[0]["element"] == "Flow_0b2" and "accepted" in errors[0]["message"]
    assert "incident" in errors[0]["message"]


def test_spiff_messages_are_french_and_all_problems_come_at_once(api, deployed):
    xml = MODERN.replace('<bpmn:userTask id="Activity_quick" name="Rembourser" camunda:assignee="gestionnaire">',
                         '<bpmn:userTask id="Activity_quick" name="Rembourser" camunda:assignee="x,${a}">')
    xml = xml.replace("${approved}", "${accepted}")
    xml = xml.replace('camunda:candidateGroups="responsable"', 'camunda:candidateGroups="juristes"')
    errors = upload(api, xml, expect=422)["errors"]
    assert {e["element"] for e in errors} == {"Activity_quick", "Flow_0b2", "Activity_review"}
    assert all("Error" not in e["message"] and "exception" not in e["message"].lower() for e in errors)
    # a call activity without calledElement comes with the others, in French, once
    xml = xml.replace('<bpmn:userTask id="Activity_quick" name="Rembourser" camunda:assignee="x,${a}">',
                      '<bpmn:callActivity id="Activity_quick" name="Rembourser">').replace(
        "      <bpmn:outgoing>Flow_0c3</bpmn:outgoing>\n    </bpmn:userTask>",
        "      <bpmn:outgoing>Flow_0c3</bpmn:outgoing>\n    </bpmn:callActivity>")
    errors = upload(api, xml, expect=422)["errors"]
    assert {e["element"] for e in errors} == {"Activity_quick", "Flow_0b2", "Activity_review"}
    quick = [e["message"] for e in errors if e["element"] == "Activity_quick"]
    assert quick == ["Activité d'appel sans processus appelé (attribut calledElement)."]
    assert all("Error" not in e["message"] and "exception" not in e["message"].lower() for e in errors)
