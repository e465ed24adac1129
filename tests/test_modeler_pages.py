"""Process owners' pages around the modeler: checks without saving, never-deployed compare, size limit, drafts,
migration page, Paris time."""

import io
import re
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import ProcessDefinition

ROOT = Path(__file__).resolve().parent.parent
RECLAMATION = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
MODERN = (ROOT / "tests" / "bpmn" / "camunda7_modern.bpmn").read_text(encoding="utf-8")


def login(client, username="proprietaire"):
    resp = client.post("/login", data={"username": username, "password": "demo"})
    assert resp.status_code in (302, 303)


def active_id(key="reclamation"):
    return db.session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key,
                                                                ProcessDefinition.status == "deployed"))


def drafts(key):
    return db.session.scalar(select(func.count()).where(ProcessDefinition.key == key,
                                                        ProcessDefinition.status == "draft"))


def test_valider_checks_the_xml_without_saving(client, deployed):
    login(client)
    bad = RECLAMATION.replace('camunda:topic="set_status"', 'camunda:topic="fax_customer"', 1)
    resp = client.post(f"/processus/versions/{active_id()}/valider", data=bad.encode("utf-8"),
                       headers={"Content-Type": "application/xml", "Accept": "application/json"})
    body = resp.get_json()
    assert resp.status_code == 200 and body["blocking"] == 1
    assert body["problems"][0]["element"] == "st_feedback_closed"
    assert drafts("reclamation") == 0  # nothing saved
    ok = client.post(f"/processus/versions/{active_id()}/valider", data=RECLAMATION.encode("utf-8"),
                     headers={"Content-Type": "application/xml"}).get_json()
    assert ok["blocking"] == 0  # the version's decision table is used for the check


def test_compare_on_a_never_deployed_process_says_so(client, deployed):
    login(client)
    client.post("/processus/televerser", data={"file": (io.BytesIO(MODERN.encode("utf-8")), "validation.bpmn")},
                content_type="multipart/form-data")
    draft = db.session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "validation_c7"))
    resp = client.get(f"/processus/versions/{draft}/comparer")
    assert resp.status_code == 200
    assert "aucune version déployée" in resp.get_data(as_text=True)


def test_identical_drafts_are_not_piled_up(client, deployed):
    login(client)
    renamed = RECLAMATION.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer"')
    first = client.post("/processus/reclamation/brouillon", data=renamed.encode("utf-8"),
                        headers={"Content-Type": "application/xml"}).get_json()
    second = client.post("/processus/reclamation/brouillon", data=renamed.encode("utf-8"),
                         headers={"Content-Type": "application/xml"}).get_json()
    assert first["id"] == second["id"] and drafts("reclamation") == 1


def test_a_20_mb_upload_gets_the_french_size_message(client, deployed, api):
    login(client)
    big = b"<x>" + b"a" * (20 * 1024 * 1024) + b"</x>"
    # the multipart body written by hand, in memory (the test client would spool it to a file left open)
    body = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.bpmn"\r\n'
            b"Content-Type: application/xml\r\n\r\n" + big + b"\r\n--B--\r\n")
    page = client.post("/processus/televerser", data=body, content_type="multipart/form-data; boundary=B")
    text = page.get_data(as_text=True)
    assert page.status_code == 413 and "trop volumineux" in text and "Request Entity Too Large" not in text
    resp = api.post("proprietaire", "/api/process-definitions", data=big, headers={"Content-Type": "application/xml"})
    assert resp.status_code == 413 and "trop volumineu" in resp.get_json()["error"]  # JSON, French


def test_non_executable_diagram_is_kept_as_a_draft_to_fix(client, deployed):
    login(client)
    xml = MODERN.replace('isExecutable="true"', 'isExecutable="false"')
    resp = client.post("/processus/televerser", data={"file": (io.BytesIO(xml.encode("utf-8")), "v.bpmn")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "cochez « Exécutable »" in page


def test_migration_page_ticks_nothing_and_shows_each_case_impact(client, deployed, api):
    from app.services.core.definitions import deploy_xml
    from tests.support import flows

    ref = flows.start(api, **flows.complaint_data())["reference"]
    deploy_xml(RECLAMATION.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer"'), "test")
    db.session.commit()
    login(client)
    page = client.get("/processus/reclamation/migration").get_data(as_text=True)
    assert ref in page and 'name="cases"' in page
    assert not re.search(r'name="cases"[^>]*checked', page)
    assert "Effet pour le dossier" in page and "Qualifier et classer" in page


def test_process_pages_show_paris_time(client, deployed):
    login(client)
    row = db.session.get(ProcessDefinition, active_id())
    page = client.get("/processus/reclamation/").get_data(as_text=True)
    from zoneinfo import ZoneInfo

    assert row.deployed_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M") in page


def test_owner_tests_edited_in_the_modeler_page(client, deployed):
    import json

    login(client)
    page = client.get(f"/processus/versions/{active_id()}/modeleur").get_data(as_text=True)
    assert "Tests du processus (5)" in page and "Réclamation non recevable" in page
    shipped = json.loads((ROOT / "processes" / "reclamation.tests.json").read_text(encoding="utf-8"))
    wrong = {"tests": [{**shipped["tests"][1], "expect": {"data": {"status": "open"}}}]}
    resp = client.post(f"/processus/versions/{active_id()}/tests", data={"tests": json.dumps(wrong)},
                       follow_redirects=True)
    text = resp.get_data(as_text=True)
    assert "en échec" in text and "Donnée « status »" in text and "Tests du processus (1)" in text
    draft = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == "reclamation",
                                                              ProcessDefinition.status == "draft"))
    assert draft.tests == wrong["tests"]
    assert client.post(f"/processus/versions/{draft.id}/deployer").status_code == 422  # the failing test blocks
