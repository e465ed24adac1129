"""Tests written by process owners: shipped next to the BPMN, run at deploy in memory, a failure blocks."""

import json
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import OutboxMessage, ProcessDefinition
from app.services.core import owner_tests

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
RECLAMATION = (PROCESSES / "reclamation.bpmn").read_text(encoding="utf-8")
DECISIONS = {"service_par_categorie.dmn": (PROCESSES / "service_par_categorie.dmn").read_text(encoding="utf-8")}
TESTS = json.loads((PROCESSES / "reclamation.tests.json").read_text(encoding="utf-8"))
XML = {"Content-Type": "application/xml"}


def test_shipped_tests_pass_on_both_processes(ctx):
    assert owner_tests.run(RECLAMATION, "reclamation", TESTS["tests"], DECISIONS) == []
    litige = json.loads((PROCESSES / "litige.tests.json").read_text(encoding="utf-8"))["tests"]
    assert len(TESTS["tests"]) >= 5 and len(litige) >= 2
    assert owner_tests.run((PROCESSES / "litige.bpmn").read_text(encoding="utf-8"), "litige", litige) == []


def test_tests_run_in_memory_without_side_effects(ctx):
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert owner_tests.run(RECLAMATION, "reclamation", TESTS["tests"], DECISIONS) == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == before == 0


def test_a_failure_says_where_the_path_diverged(ctx):
    broken = RECLAMATION.replace('admissible == "no"', 'admissible == "yes"')
    failures = owner_tests.run(broken, "reclamation", TESTS["tests"][:2], DECISIONS)
    by_test = {f.test: f for f in failures}
    first = by_test["Réclamation écrite acceptée, close, enquête remplie"]
    assert first.element == "end_rejected" and "ut_analyse" in first.message and "st_rejection" in first.message
    second = by_test["Réclamation non recevable"]
    assert second.element == "gw_admissible" and "« st_rejection » attendu après « gw_admissible »" in second.message


def test_deploy_runs_the_tests_and_refuses_a_broken_version(api, deployed):
    broken = RECLAMATION.replace('admissible == "no"', 'admissible == "yes"')
    resp = api.post("proprietaire", "/api/process-definitions", data=broken.encode("utf-8"), headers=dict(XML))
    assert resp.status_code == 201  # the diagram itself is valid: only its tests say it is wrong
    draft = resp.get_json()
    resp = api.post("proprietaire", f"/api/process-definitions/reclamation/{draft['ref']}/deploy")
    assert resp.status_code == 422
    body = resp.get_json()
    assert "test(s) du processus en échec" in body["error"]
    assert any(e["element"] == "gw_admissible" and "Test « Réclamation non recevable »" in e["message"]
               for e in body["errors"]), body
    deployed_versions = db.session.scalar(select(func.count()).where(ProcessDefinition.key == "reclamation",
                                                                     ProcessDefinition.status == "deployed"))
    assert deployed_versions == 1


def test_owner_updates_tests_of_a_draft_then_deploys(api, deployed):
    changed = RECLAMATION.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer la réclamation"')
    draft = api.post("proprietaire", "/api/process-definitions", data=changed.encode("utf-8"),
                     headers=dict(XML)).get_json()
    wrong = {"tests": [{"name": "Non recevable", "start": TESTS["tests"][1]["start"],
                        "steps": TESTS["tests"][1]["steps"], "expect": {"data": {"status": "open"}}}]}
    resp = api.post("proprietaire", f"/api/process-definitions/reclamation/{draft['ref']}/tests", json=wrong)
    assert resp.status_code == 201
    failures = resp.get_json()["failures"]
    assert len(failures) == 1 and "Donnée « status » : 'open' attendu, 'closed' obtenu" in failures[0]["message"]
    assert api.post("proprietaire", f"/api/process-definitions/reclamation/{draft['ref']}/deploy").status_code == 422
    api.post("proprietaire", f"/api/process-definitions/reclamation/{draft['ref']}/tests", json=TESTS)
    resp = api.post("proprietaire", f"/api/process-definitions/reclamation/{draft['ref']}/deploy")
    assert resp.status_code == 201 and resp.get_json()["version"] == 2
    stored = api.get("auditeur", "/api/process-definitions/reclamation/2/tests").get_json()["tests"]
    assert len(stored) == len(TESTS["tests"])


def test_malformed_tests_are_refused_in_french(api, deployed):
    resp = api.post("proprietaire", "/api/process-definitions/reclamation/1/tests", json={"tests": [{"steps": 3}]})
    assert resp.status_code == 422 and "le cas 1 doit avoir" in resp.get_json()["errors"][0]["message"]
