"""Process definitions through the API: upload drafts, validation errors, deploy, versions, roles."""

from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.support import flows
from tests.support.flows import XML, deploy, upload

ROOT = Path(__file__).resolve().parent.parent
RECLAMATION = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
RENAMED = RECLAMATION.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer la réclamation"')


@pytest.mark.parametrize("user, status", [("proprietaire", 201), ("admin", 201), ("gestionnaire", 403),
                                          ("auditeur", 403), ("responsable", 403)])
def test_only_owners_and_admins_upload(api, deployed, user, status):
    upload(api, user, RENAMED, expect=status)


@pytest.mark.parametrize("user, status", [("proprietaire", 201), ("admin", 201), ("auditeur", 403),
                                          ("qualite", 403)])
def test_only_owners_and_admins_deploy(api, deployed, user, status):
    draft = upload(api, "proprietaire", RENAMED)
    deploy(api, user, "reclamation", draft["ref"], expect=status)


def test_upload_needs_xml_and_token(api, deployed):
    assert api.post(None, "/api/process-definitions", data=RENAMED, headers=dict(XML)).status_code == 401
    resp = api.post("proprietaire", "/api/process-definitions", json={"xml": RENAMED})
    assert resp.status_code == 400


def test_invalid_upload_gets_422_with_elements_and_saves_nothing(api, deployed):
    xml = RECLAMATION.replace('camunda:topic="set_status"', 'camunda:topic="fax_customer"', 1)
    body = upload(api, "proprietaire", xml, expect=422)
    assert {"element": "st_feedback_closed", "label": "Clôturer le retour"}.items() <= body["errors"][0].items()
    assert "fax_customer" in body["errors"][0]["message"]
    versions = api.get("proprietaire", "/api/process-definitions/reclamation/versions").get_json()["versions"]
    assert [v["status"] for v in versions] == ["deployed"]


def test_hostile_upload_is_refused(api, deployed):
    xxe = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
           '<bpmn:process id="p" name="&xxe;" isExecutable="true"/></bpmn:definitions>')
    body = upload(api, "proprietaire", xxe, expect=422)
    assert "DOCTYPE" in body["errors"][0]["message"] and "root:" not in str(body)
    big = RECLAMATION.replace("</bpmn:definitions>", "<!--" + "x" * (3 * 1024 * 1024) + "--></bpmn:definitions>")
    body = upload(api, "proprietaire", big, expect=422)
    assert "volumineux" in body["errors"][0]["message"]


def test_draft_then_deploy_then_versions(api, deployed):
    draft = upload(api, "proprietaire", RENAMED, filename="reclamation-v2.bpmn")
    assert draft["status"] == "draft" and draft["version"] is None and draft["key"] == "reclamation"
    assert draft["ref"] == f"draft-{draft['id']}"
    versions = api.get("gestionnaire", "/api/process-definitions/reclamation/versions").get_json()["versions"]
    assert [(v["version"], v["status"], v["active"]) for v in versions] == [(1, "deployed", True),
                                                                          (None, "draft", False)]
    done = deploy(api, "proprietaire", "reclamation", draft["ref"])
    assert (done["id"], done["version"], done["status"], done["deployed_by"]) == (draft["id"], 2, "deployed",
                                                                                  "proprietaire")
    versions = api.get("auditeur", "/api/process-definitions/reclamation/versions").get_json()["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    # deploying the same document twice is refused; the draft reference no longer exists
    deploy(api, "proprietaire", "reclamation", draft["ref"], expect=404)
    deploy(api, "proprietaire", "reclamation", "2", expect=409)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "definition_deployed")
                               .order_by(AuditEvent.id.desc())).first()
    assert event.case_id is None and event.actor == "proprietaire"
    assert event.data["version"] == 2 and event.data["key"] == "reclamation" and event.data["from_draft"] is True
    xml = api.get("gestionnaire", "/api/process-definitions/reclamation/2/bpmn")
    assert xml.status_code == 200 and xml.data.decode("utf-8") == RENAMED


def test_rollback_deploys_an_earlier_version_again(api, deployed):
    draft = upload(api, "proprietaire", RENAMED)
    deploy(api, "proprietaire", "reclamation", draft["ref"])
    again = deploy(api, "admin", "reclamation", "1")
    assert again["version"] == 3
    assert api.get("admin", "/api/process-definitions/reclamation/3/bpmn").data.decode() == RECLAMATION


def test_deploy_refuses_a_draft_that_became_invalid(api, deployed, ctx):
    from app.services.people.users import by_username
    from app.services.processes import admin as process_admin

    bad = RECLAMATION.replace('camunda:topic="set_status"', 'camunda:topic="fax_customer"', 1)
    draft, problems = process_admin.save_draft(by_username("proprietaire"), bad, strict=False)
    assert draft.status == "draft" and problems and problems[0].element == "st_feedback_closed"
    body = deploy(api, "proprietaire", "reclamation", f"draft-{draft.id}", expect=422)
    assert body["errors"][0]["element"] == "st_feedback_closed"


def test_new_version_for_new_cases_while_old_case_finishes_on_old(api, deployed):
    old = flows.start(api, **flows.complaint_data())
    assert old["version"] == 1
    old_task = [t for t in old["tasks"]][0]
    draft = upload(api, "proprietaire", RENAMED)
    deploy(api, "proprietaire", "reclamation", draft["ref"])
    new = flows.start(api, **flows.complaint_data(customer_name="Paul Durand"))
    assert new["version"] == 2
    new_names = {t["bpmn_id"]: t["name"] for t in new["tasks"]}
    old_names = {t["bpmn_id"]: t["name"] for t in old["tasks"]}
    assert new_names.get("ut_qualify") == "Qualifier et classer la réclamation", new_names
    assert old_names.get("ut_qualify") == "Qualifier la réclamation", old_names
    # the old case keeps its pinned version while it moves on
    flows.do(api, old["reference"], old_task["bpmn_id"], "gestionnaire",
             {"admissible": "no", "rejection_reason": "Hors délai.", "severity": "low", "category": "billing",
              "qualification_comment": "Hors délai."})
    after = flows.case(api, old["reference"])
    assert after["version"] == 1


def test_deploy_is_seen_at_once_by_another_server_process(app, api, deployed):
    """A second application (its own engine and sessions, same database) starts cases on the new version."""
    from app import create_app
    from tests.support.setup import Api

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                        "AUDIT_KEY_DIR": app.config["AUDIT_KEY_DIR"]})  # the same key ring, as in production
    try:
        with other.app_context():
            other_api = Api(other.test_client())
            assert flows.start(other_api, **flows.complaint_data())["version"] == 1  # v1 parsed and cached there
        draft = upload(api, "proprietaire", RENAMED)
        deploy(api, "proprietaire", "reclamation", draft["ref"])
        with other.app_context():
            case = flows.start(other_api, **flows.complaint_data())
            assert case["version"] == 2
            assert [t["name"] for t in case["tasks"]] == ["Qualifier et classer la réclamation"]
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
