"""Audit pages, API and export: who may read them, what they show, and the export's round trip."""

import csv
import io
import json

import pytest

from app.services.audit.exports import export_trail, verify_export
from tests.support.auth import login
from tests.support.flows import advance_days, complaint_data, do, start

QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"}


@pytest.fixture
def ref(deployed, api):
    reference = start(api, **complaint_data())["reference"]
    do(api, reference, "ut_qualify", "gestionnaire", QUALIFY)
    return reference


def test_timeline_and_state_pages_render_for_auditors(client, api, ref):
    login(client, "auditeur")
    page = client.get(f"/audit/cases/{ref}").get_data(as_text=True)
    assert "Chronologie" in page and "Qualifier la réclamation" in page and "Étape terminée" in page
    assert 'id="audit-steps"' in page and "bpmn-navigated-viewer.production.min.js" in page
    # submitted data and what it changed, before and after
    assert "<td>Catégorie</td><td>—</td><td>Facturation</td>" in page  # labels and option names, not ids
    filtered = client.get(f"/audit/cases/{ref}?type=task_completed").get_data(as_text=True)
    assert filtered.count('data-type="task_completed"') == 1 and 'data-type="case_started"' not in filtered
    by_actor = client.get(f"/audit/cases/{ref}?actor=accueil").get_data(as_text=True)
    assert 'data-type="task_completed"' not in by_actor and 'data-type="case_started"' in by_actor
    state = client.get(f"/audit/cases/{ref}/state?at=1").get_data(as_text=True)
    assert "Après l'événement" in state and "Qualifier la réclamation" in state and "non attribuée" in state
    assert client.get(f"/audit/cases/{ref}/state?at=demain").status_code == 200  # form error, not a crash
    assert client.get(f"/audit/cases/{ref}/diagram.bpmn").get_data(as_text=True).startswith("<?xml")
    verified = client.post(f"/audit/cases/{ref}/verify", follow_redirects=True).get_data(as_text=True)
    assert "historique conforme" in verified and "par auditeur" in verified  # stored, with who ran it
    assert client.get("/audit/cases/REC-0000-000000").status_code == 404


@pytest.mark.parametrize("user", ["accueil", "gestionnaire", "finance", "proprietaire"])
def test_audit_pages_are_403_without_access(client, ref, user):
    login(client, user)
    for url in ("/audit/", f"/audit/cases/{ref}", f"/audit/cases/{ref}/state?at=1", f"/audit/cases/{ref}/verify",
                f"/audit/cases/{ref}/export.json", f"/audit/cases/{ref}/export.csv", f"/audit/cases/{ref}/print"):
        assert client.get(url).status_code == 403, url


def test_audit_pages_need_sign_in(client, ref):
    assert client.get(f"/audit/cases/{ref}").status_code == 302


def test_steps_count_visits_and_active_tokens(client, api, ref):
    from app.services.audit.trail import steps, timeline

    trail = timeline(ref)
    found = steps(trail.case, trail.events)
    assert [s["seq"] for s in found] == [e.seq for e in trail.events]
    assert found[0]["active"] == ["ut_qualify"]
    last = found[-1]
    assert last["visits"]["ut_qualify"] == 1 and "ut_analyse" in last["active"]
    assert ["gw_admissible", "gw_loop_join"] in last["taken"] and ["gw_written", "st_deadline_written"] in last["taken"]


def test_export_round_trips_and_detects_edits(client, api, ref):
    login(client, "auditeur")
    resp = client.get(f"/audit/cases/{ref}/export.json")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="audit-{ref}.json"'
    document = json.loads(resp.get_data(as_text=True))
    assert document == json.loads(json.dumps(export_trail(ref)))
    assert verify_export(resp.get_data(as_text=True)) == []
    assert document["head"] == document["events"][-1]["hash"] and document["count"] == len(document["events"])
    edited = json.loads(json.dumps(document))
    index = next(i for i, e in enumerate(edited["events"]) if e["type"] == "task_completed")
    edited["events"][index]["data"]["submitted"]["category"] = "product"
    seq = edited["events"][index]["seq"]
    assert verify_export(edited) == ["signature de l'export invalide",
                                     f"événement {seq} : contenu modifié (empreinte invalide)"]
    dropped = json.loads(json.dumps(document))
    del dropped["events"][1]
    assert any("séquence" in p for p in verify_export(dropped))
    exported = client.get(f"/audit/cases/{ref}/export.csv").get_data(as_text=True)
    assert exported.startswith("\ufeff")  # UTF-8 with a BOM, like every CSV export (core/csv_export.py)
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    rows = [r for r in rows if not r["seq"].startswith("#")]  # the trailing document and signature rows
    assert [r["hash"] for r in rows] == [e["hash"] for e in document["events"]]
    assert json.loads(rows[0]["data"]) == document["events"][0]["data"]
    printable = client.get(f"/audit/cases/{ref}/print").get_data(as_text=True)
    assert document["head"] in printable and "vérifiée à l'impression" in printable


def test_cross_case_search_and_late_responses(client, api, ref):
    other = start(api, **complaint_data(customer_name="Paul Durand"))["reference"]
    login(client, "auditeur")
    page = client.get("/audit/?actor=gestionnaire").get_data(as_text=True)
    assert ref in page and other not in page.split("Événements (")[0]  # only ref was touched by gestionnaire
    by_type = client.get("/audit/?type=case_started").get_data(as_text=True)
    assert "Événements (2)" in by_type
    assert "Événements (0)" in client.get("/audit/?process=litige").get_data(as_text=True)
    assert "Événements (0)" in client.get("/audit/?to=2026-11-22").get_data(as_text=True)
    assert "Date ou date-heure" in client.get("/audit/?from=hier").get_data(as_text=True)
    # a response sent after the due date (15 days) shows in the late list; none before
    assert ref not in client.get("/audit/late-responses").get_data(as_text=True)
    advance_days(20)
    do(api, ref, "ut_analyse", "service", {"facts": "Vérifié.", "systemic": "no", "needs_information": "no"})
    do(api, ref, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Remboursement."})
    late = client.get("/audit/late-responses").get_data(as_text=True)
    assert ref in late and other not in late


def test_api_state_and_events(api, ref):
    resp = api.get("auditeur", f"/api/cases/{ref}/state?at=1")
    assert resp.status_code == 200
    body = resp.get_json()
    assert [t["bpmn_id"] for t in body["ready"]] == ["ut_qualify"] and body["seq"] >= 1
    assert api.get("auditeur", f"/api/cases/{ref}/state?at=x").status_code == 422
    assert api.get("gestionnaire", f"/api/cases/{ref}/state").status_code == 403
    assert api.get(None, f"/api/cases/{ref}/state").status_code == 401
    events = api.get("auditeur", "/api/audit/events?type=task_completed&per_page=1").get_json()
    assert events["total"] == 1 and events["events"][0]["bpmn_id"] == "ut_qualify"
    assert api.get("auditeur", "/api/audit/events?process=reclamation&version=1").get_json()["total"] >= 4
    assert api.get("auditeur", "/api/audit/events?page=zero").status_code == 422
    assert api.get("accueil", "/api/audit/events").status_code == 403
    spec = api.get(None, "/api/openapi.json").get_json()
    assert "/api/cases/{reference}/state" in spec["paths"] and "/api/audit/events" in spec["paths"]


def test_verified_badge_shows_the_last_stored_check(client, runner, ref):
    login(client, "auditeur")
    never = "Aucune vérification complète (rejeu) n'a encore été faite pour ce dossier."
    assert never in client.get(f"/audit/cases/{ref}").get_data(as_text=True).replace("&#39;", "'")
    result = runner.invoke(args=["audit", "replay", "--all"])
    assert result.exit_code == 0 and "conformes : 1" in result.output
    page = client.get(f"/audit/cases/{ref}").get_data(as_text=True)
    assert "✔ Vérifié par rejeu le 23/11/2026 10:00:00 par cli : historique conforme jusqu'à l'événement" in \
        page.replace("&#39;", "'")


def test_staff_case_page_shows_the_verified_mark(client, runner, ref):
    login(client, "auditeur")
    page = client.get(f"/dossiers/{ref}").get_data(as_text=True)
    assert "Aucune vérification complète" in page and f'href="/audit/cases/{ref}"' in page
    assert runner.invoke(args=["audit", "replay", ref]).exit_code == 0
    assert "✔ Vérifié par rejeu le" in client.get(f"/dossiers/{ref}").get_data(as_text=True)
