"""The CAPA register: actions created by the quality step of the process, their lifecycle, recurrence, access."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Action, ActionCase, AuditEvent, Case, User
from app.services.core.errors import Forbidden, Invalid
from app.services.quality import capa
from tests.support import flows
from tests.support.auth import login


def drive_to_capa(api, **overrides) -> str:
    """Start a complaint and take it to the quality step with a systemic root cause."""
    reference = flows.start(api, **flows.complaint_data(**overrides))["reference"]
    flows.do(api, reference, "ut_qualify", "gestionnaire", {
        "admissible": "yes", "category": "billing", "severity": "medium", "department": "billing"})
    flows.do(api, reference, "ut_analyse", "service", {
        "facts": "Frais de port facturés deux fois.", "root_cause": "Double facturation du port",
        "systemic": "yes", "needs_information": "no"})
    flows.do(api, reference, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Avoir émis."})
    flows.do(api, reference, "ut_reaction", "gestionnaire", {
        "reaction": "satisfied", "reaction_on": "2026-11-24", "payment_blocked": "no"})
    return reference


def capa_data(**overrides) -> dict:
    data = {"corrective_action": "Corriger la règle de facturation du port\nTicket FAC-12",
            "preventive_action": "Contrôle automatique des doublons sur toutes les factures",
            "action_owner": "qualite", "action_due": "2026-12-15"}
    data.update(overrides)
    return data


def user(name: str) -> User:
    return db.session.scalars(select(User).where(User.username == name)).one()


def test_quality_step_creates_linked_actions(api, deployed):
    reference = drive_to_capa(api)
    result = flows.do(api, reference, "ut_capa", "qualite", capa_data())
    assert [t["bpmn_id"] for t in result["tasks"]] == ["ut_survey"]

    case = db.session.scalars(select(Case).where(Case.reference == reference)).one()
    actions = db.session.scalars(select(Action).order_by(Action.id)).all()
    assert [(a.kind, a.title, a.owner, a.due_on, a.status) for a in actions] == [
        ("corrective", "Corriger la règle de facturation du port", "qualite", date(2026, 12, 15), "open"),
        ("preventive", "Contrôle automatique des doublons sur toutes les factures", "qualite", date(2026, 12, 15),
         "open")]
    assert actions[0].description == capa_data()["corrective_action"]
    assert {(a.category, a.root_cause, a.source_case_id, a.source_bpmn_id) for a in actions} == {
        ("billing", "Double facturation du port", case.id, "st_create_actions")}
    links = db.session.scalars(select(ActionCase)).all()
    assert sorted((link.action_id, link.case_id) for link in links) == [(actions[0].id, case.id),
                                                                        (actions[1].id, case.id)]
    assert "capa_actions_created" in flows.history_types(api, reference)


def test_quality_step_without_preventive_action_creates_one(api, deployed):
    reference = drive_to_capa(api)
    flows.do(api, reference, "ut_capa", "qualite", capa_data(preventive_action=""))
    assert [a.kind for a in db.session.scalars(select(Action))] == ["corrective"]


def test_no_systemic_cause_creates_nothing(api, deployed):
    reference = flows.start(api, **flows.complaint_data())["reference"]
    flows.do(api, reference, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing",
                                                            "severity": "low"})
    flows.do(api, reference, "ut_analyse", "service", {"facts": "Erreur ponctuelle.", "systemic": "no",
                                                       "needs_information": "no"})
    flows.do(api, reference, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "OK"})
    result = flows.do(api, reference, "ut_reaction", "gestionnaire", {
        "reaction": "satisfied", "reaction_on": "2026-11-24", "payment_blocked": "no"})
    assert [t["bpmn_id"] for t in result["tasks"]] == ["ut_survey"]
    assert db.session.scalars(select(Action)).all() == []


def test_lifecycle_and_recurrence(api, deployed):
    reference = drive_to_capa(api)
    flows.do(api, reference, "ut_capa", "qualite", capa_data(preventive_action=""))
    action = db.session.scalars(select(Action)).one()
    quality = user("qualite")

    capa.change_status(quality, action.id, "in_progress")
    assert action.status == "in_progress" and action.completed_at is None
    flows.advance_days(3)
    capa.change_status(quality, action.id, "done", "Règle corrigée, contrôle en place.")
    done_at = clock.now()
    assert action.completed_at == done_at and action.effectiveness == "Règle corrigée, contrôle en place."
    assert capa.recurrence(action).after == 0

    # Two complaints with the same category and cause after completion (one in other case/spaces), one with
    # another cause: only the first two recur.
    flows.advance_days(10)
    for cause in ("Double facturation du port", "  double facturation du PORT ", "Retard transporteur"):
        ref = flows.start(api, **flows.complaint_data())["reference"]
        flows.do(api, ref, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing",
                                                          "severity": "low"})
        flows.do(api, ref, "ut_analyse", "service", {"facts": "Idem", "root_cause": cause, "systemic": "no",
                                                     "needs_information": "no"})
    result = capa.recurrence(action)
    assert result.measurable and result.after == 2 and result.days == 10
    # the linked complaint received before completion is not counted as "before" either
    assert result.before == 0
    summary = capa.recurrence_summary()
    assert [(s["id"], s["after"], s["before"], s["days"]) for s in summary] == [(action.id, 2, 0, 10)]

    # Reopening clears the completion: recurrence is no longer measured.
    capa.change_status(quality, action.id, "in_progress")
    assert action.completed_at is None and not capa.recurrence(action).measurable


def test_manual_create_edit_link_unlink(api, deployed):
    reference = flows.start(api, **flows.complaint_data())["reference"]
    quality = user("qualite")
    with pytest.raises(Invalid) as exc:
        capa.create_action(quality, {"kind": "bogus", "title": "", "owner": "", "due_on": "31/12/2026"})
    assert set(exc.value.errors) == {"kind", "title", "owner", "due_on"}
    assert db.session.scalars(select(Action)).all() == []
    with pytest.raises(Invalid):
        capa.create_action(quality, {"kind": "curative", "title": "T", "owner": "qualite", "due_on": "2026-12-01"},
                           ["REC-0000-999999"])
    assert db.session.scalars(select(Action)).all() == []

    action = capa.create_action(quality, {"kind": "curative", "title": "Geste commercial", "owner": "responsable",
                                          "due_on": "2026-12-01"}, [reference])
    assert [c.reference for c in capa.linked_cases(action)] == [reference]
    capa.update_action(quality, action.id, {"kind": "corrective", "title": "Revoir le barème", "owner": "qualite",
                                            "due_on": "2026-12-20", "category": "billing", "root_cause": "Barème"})
    assert (action.kind, action.title, action.due_on) == ("corrective", "Revoir le barème", date(2026, 12, 20))
    capa.unlink_case(quality, action.id, reference)
    assert capa.linked_cases(action) == []
    capa.link_case(quality, action.id, reference)
    capa.link_case(quality, action.id, reference)  # twice: still one link
    assert len(capa.linked_cases(action)) == 1
    types = [e.type for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_id.is_(None)))]
    assert {"capa_action_created", "capa_action_updated"} <= set(types)


@pytest.mark.parametrize("name", ["auditeur", "direction", "gestionnaire"])
def test_service_refuses_writes_to_readers_and_others(deployed, name):
    with pytest.raises(Forbidden):
        capa.create_action(user(name), {"kind": "curative", "title": "T", "owner": "x", "due_on": "2026-12-01"})


def csrf(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else ""


@pytest.mark.parametrize("name,read,write", [
    ("qualite", 200, True), ("responsable", 200, True), ("admin", 200, True), ("direction", 200, False),
    ("auditeur", 200, False), ("gestionnaire", 403, False), ("accueil", 403, False), ("finance", 403, False)])
def test_pages_access(client, deployed, name, read, write):
    action = capa.create_action(user("qualite"), {"kind": "preventive", "title": "Former l'accueil",
                                                  "owner": "responsable", "due_on": "2026-12-01"})
    login(client, name)
    assert client.get("/actions/").status_code == read
    assert client.get(f"/actions/{action.id}").status_code == read
    writes = [("/actions/new", {"kind": "curative", "title": "Nouvelle", "owner": "x", "due_on": "2026-12-01"}),
              (f"/actions/{action.id}/edit", {"kind": "curative", "title": "Changée", "owner": "x",
                                              "due_on": "2026-12-01"}),
              (f"/actions/{action.id}/status", {"status": "done"}),
              (f"/actions/{action.id}/cases", {"reference": "nothing"})]
    for url, data in writes:
        resp = client.post(url, data=data)
        if write:
            assert resp.status_code in (302, 303, 422), (url, resp.status_code)
        else:
            assert resp.status_code == 403, (url, resp.status_code)
    db.session.expire_all()
    assert (action.title, action.status) == (("Changée", "done") if write else ("Former l'accueil", "open"))
    assert db.session.query(Action).count() == (2 if write else 1)


def test_pages_render_and_bad_input(client, deployed):
    login(client, "qualite")
    resp = client.post("/actions/new", data={"kind": "corrective", "title": "", "owner": "", "due_on": ""})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Intitulé obligatoire" in html and "Échéance obligatoire" in html
    resp = client.post("/actions/new", data={"kind": "corrective", "title": "<b>Revoir</b>", "owner": "qualite",
                                             "due_on": "2026-12-01", "category": "billing",
                                             "root_cause": "Barème"})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "&lt;b&gt;Revoir&lt;/b&gt;" in page and "<b>Revoir</b>" not in page
    listing = client.get("/actions/?kind=corrective&status=open").get_data(as_text=True)
    assert "&lt;b&gt;Revoir&lt;/b&gt;" in listing
    assert "Aucune action" in client.get("/actions/?kind=preventive").get_data(as_text=True)
    action = db.session.scalars(select(Action)).one()
    resp = client.post(f"/actions/{action.id}/cases", data={"reference": "REC-1999-000001"})
    assert resp.status_code == 422 and "Dossier inconnu" in resp.get_data(as_text=True)
    assert client.post(f"/actions/{action.id}/status", data={"status": "bogus"}).status_code == 422
    assert client.get("/actions/99999").status_code == 404


def test_recurrence_counts_days_inside_and_edges(deployed):
    """Recurrence reads the days strictly inside its windows from the rollup (month rows for whole months) and the
    partial first and last days from the cases: the counts equal a plain count over every case."""
    from datetime import UTC, datetime, timedelta

    from tests.support.indicator_data import Builder

    b = Builder()
    done = datetime(2026, 8, 10, 14, 0, tzinfo=UTC)
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    moments = [done - timedelta(days=d, hours=h) for d in (1, 20, 40, 70, 104) for h in (0, 3)]
    moments += [done + timedelta(hours=2), done - timedelta(hours=2), done + timedelta(days=1),
                now - timedelta(hours=1), now.replace(hour=0), done + timedelta(days=30), done + timedelta(days=45)]
    moments.append(done - (now - done) + timedelta(minutes=5))  # the first minutes of the "before" window
    cases = [b.case(m, category="billing", root_cause=" Double facturation ") for m in moments]
    cases += [b.case(done + timedelta(days=5), category="billing", root_cause="Autre chose"),
              b.case(done + timedelta(days=6), category="delivery", root_cause="Double facturation")]
    action = Action(kind="corrective", title="Contrôle", owner="qualite", status="done", category="billing",
                    root_cause="double facturation", created_at=done, created_by="t", updated_at=done,
                    completed_at=done)
    db.session.add(action)
    db.session.flush()
    linked = [cases[3], cases[-5]]  # one before (a day inside the window), one after (a day inside)
    for c in linked:
        db.session.add(ActionCase(action_id=action.id, case_id=c.id, linked_at=done, linked_by="t"))
    db.session.commit()

    def plain(lo, hi):
        return sum(1 for c in cases if c.category == "billing" and c.root_cause.strip() == "Double facturation"
                   and lo < c.received_at <= hi and c not in linked)

    result = capa.recurrence(action, now=now)
    assert (result.after, result.before) == (plain(done, now), plain(done - (now - done), done))
    assert result.after == 5 and result.before == 11  # hand count: the linked ones are left out
