"""Process pages: who may see and change what, and the page flows (template, upload, save, deploy, compare, migrate)."""

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ProcessDefinition
from tests.support import flows
from tests.support.auth import login

ROOT = Path(__file__).resolve().parent.parent
RECLAMATION = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
RENAMED = RECLAMATION.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer la réclamation"')


def active_id(key="reclamation"):
    return db.session.scalars(select(ProcessDefinition.id).where(ProcessDefinition.key == key,
                                                                ProcessDefinition.status == "deployed")).first()


@pytest.mark.parametrize("user", ["gestionnaire", "auditeur", "proprietaire", "admin"])
def test_everybody_signed_in_sees_processes_and_diagrams(client, deployed, user):
    login(client, user)
    page = client.get("/processus/")
    assert page.status_code == 200 and "Réclamation" in page.get_data(as_text=True)
    assert client.get("/processus/reclamation/").status_code == 200
    assert client.get(f"/processus/versions/{active_id()}/diagramme").status_code == 200
    xml = client.get(f"/processus/versions/{active_id()}/bpmn")
    assert xml.status_code == 200 and xml.get_data(as_text=True) == RECLAMATION
    can_edit = user in ("proprietaire", "admin")
    assert ("Nouveau processus" in page.get_data(as_text=True)) == can_edit


def test_anonymous_is_sent_to_login(client, deployed):
    assert client.get("/processus/").status_code in (302, 401)


@pytest.mark.parametrize("user", ["gestionnaire", "auditeur", "qualite"])
def test_writes_are_refused_to_non_owners(client, deployed, user):
    login(client, user)
    did = active_id()
    assert client.get(f"/processus/versions/{did}/modeleur").status_code == 403
    assert client.post("/processus/reclamation/brouillon", data=RENAMED.encode(),
                       content_type="application/xml").status_code == 403
    assert client.post(f"/processus/versions/{did}/deployer").status_code == 403
    assert client.post("/processus/nouveau", data={"key": "x", "name": "X"}).status_code == 403
    assert client.post("/processus/reclamation/migration", data={"cases": ["REC"]}).status_code == 403
    assert db.session.scalar(select(db.func.count()).select_from(ProcessDefinition)) == 2


def test_owner_saves_a_draft_from_the_modeler_then_deploys(client, deployed):
    login(client, "proprietaire")
    did = active_id()
    assert client.get(f"/processus/versions/{did}/modeleur").status_code == 200
    resp = client.post("/processus/reclamation/brouillon", data=RENAMED.encode(), content_type="application/xml")
    body = resp.get_json()
    assert resp.status_code == 200 and body["problems"] == []
    # saving again updates the same draft
    again = client.post(body["save_url"], data=RENAMED.replace("Qualifier et classer", "Classer").encode(),
                        content_type="application/xml").get_json()
    assert again["id"] == body["id"]
    compare = client.get(body["compare_url"])
    assert compare.status_code == 200 and "Classer la réclamation" in compare.get_data(as_text=True)
    done = client.post(body["deploy_url"])
    assert done.status_code == 302
    history = client.get("/processus/reclamation/").get_data(as_text=True)
    assert "v2" in history and "Version 2" in history


def test_draft_with_problems_is_saved_but_not_deployed(client, deployed):
    login(client, "admin")
    bad = RECLAMATION.replace('camunda:topic="set_status"', 'camunda:topic="fax_customer"', 1)
    body = client.post("/processus/reclamation/brouillon", data=bad.encode(),
                       content_type="application/xml").get_json()
    assert [p["element"] for p in body["problems"]] == ["st_feedback_closed"]
    refused = client.post(body["deploy_url"])
    assert refused.status_code == 422 and "st_feedback_closed" in refused.get_data(as_text=True)
    hostile = client.post("/processus/reclamation/brouillon", content_type="application/xml",
                          data=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    assert hostile.status_code == 422 and "DOCTYPE" in hostile.get_json()["errors"][0]["message"]


def test_new_process_from_template_can_be_deployed_and_started(client, deployed, api):
    login(client, "proprietaire")
    resp = client.post("/processus/nouveau", data={"key": "demande_info", "name": "Demande d'information",
                                                   "lane": "accueil"})
    assert resp.status_code == 302
    draft = db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "demande_info")).one()
    assert draft.status == "draft" and "Demande d&#x27;information" not in draft.xml
    assert client.post(f"/processus/versions/{draft.id}/deployer").status_code == 302
    case = flows.start(api, process="demande_info", customer_name="Jean Martin", description="Horaires ?")
    assert [t["name"] for t in case["tasks"]] == ["Traiter la demande"]
    assert client.post("/processus/nouveau", data={"key": "demande_info", "name": "X"}).status_code == 409


def test_upload_page_creates_a_draft(client, deployed):
    login(client, "proprietaire")
    resp = client.post("/processus/televerser", data={"file": (io.BytesIO(RENAMED.encode()), "reclamation.bpmn")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302 and "/modeleur" in resp.headers["Location"]
    miwg = (ROOT / "tests" / "miwg" / "C.8.1.bpmn").read_bytes()
    resp = client.post("/processus/televerser", data={"file": (io.BytesIO(miwg), "C.8.1.bpmn")},
                       content_type="multipart/form-data", follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Vacation Approval" in page and "DMN" in page


def test_migration_page(client, deployed, api):
    case = flows.start(api, **flows.complaint_data())
    login(client, "proprietaire")
    body = client.post("/processus/reclamation/brouillon", data=RENAMED.encode(),
                       content_type="application/xml").get_json()
    deployed_page = client.post(body["deploy_url"], follow_redirects=True).get_data(as_text=True)
    assert "1 dossier(s) en cours restent sur leur version" in deployed_page
    page = client.get("/processus/reclamation/migration").get_data(as_text=True)
    assert case["reference"] in page and "Qualifier et classer la réclamation" in page
    target = db.session.scalars(select(ProcessDefinition.id).where(ProcessDefinition.version == 2)).one()
    done = client.post("/processus/reclamation/migration", data={"cases": [case["reference"]], "to": target})
    assert done.status_code == 200 and "Migré vers la version 2" in done.get_data(as_text=True)
    assert flows.case(api, case["reference"])["version"] == 2


def test_owner_deletes_a_draft_but_never_a_deployed_version(client, deployed):
    login(client, "proprietaire")
    body = client.post("/processus/reclamation/brouillon", data=RENAMED.encode(),
                       content_type="application/xml").get_json()
    assert client.post(f"/processus/versions/{body['id']}/supprimer").status_code == 302
    assert db.session.get(ProcessDefinition, body["id"]) is None
    assert client.post(f"/processus/versions/{active_id()}/supprimer").status_code == 409
    assert db.session.get(ProcessDefinition, active_id()) is not None
