"""Task list page: tabs and counts, filters, search, sorts, pagination, claim / release / reassign, bulk."""

import re

import pytest

from app.extensions import db
from app.models import AuditEvent, TaskRow
from tests.support.pages import login, ready_task, row_refs, set_task, start_case, text


@pytest.fixture
def three(deployed):
    """Three complaints waiting for qualification (gestionnaire lane), with different due dates."""
    made = []
    for i, (name, days, channel, priority) in enumerate(
            [("Martine Lefèvre", 5, "letter", 0), ("Jean 50% Moreau", -2, "phone", 3), ("Anne_Petit", 1, "email", 1)]):
        case = start_case(customer_name=name, channel=channel, customer_email=f"c{i}@example.fr",
                          invoice_refs=f"FA-{i}", description=f"Sujet distinct numéro {i} sans rapport.")
        made.append(set_task(ready_task(case), due_in_days=days, priority=priority, channel=channel))
    return made


def counts(resp) -> dict[str, int]:
    pattern = r'<a href="[^"]*onglet=(\w+)[^"]*"[^>]*>[^<]*<span class="count">(\d+)</span>'
    found = re.findall(pattern, resp.get_data(as_text=True))
    return {tab: int(n) for tab, n in found}


def test_list_requires_login(client, deployed):
    resp = client.get("/taches/")
    assert resp.status_code == 302 and "/login" in resp.location


def test_tabs_counts_and_claim_release(app, three):
    g = login(app, "gestionnaire")
    resp = g.get("/taches/?onglet=group")
    assert resp.status_code == 200
    assert counts(resp) == {"mine": 0, "group": 3}  # no "Toutes" tab for a handler
    assert "onglet=all" not in resp.get_data(as_text=True)
    resp = g.post(f"/taches/{three[0].id}/prendre", data={"next": "/taches/?onglet=group"})
    assert resp.status_code == 302 and resp.location.endswith("/taches/?onglet=group")
    resp = g.get("/taches/?onglet=mine")
    assert counts(resp) == {"mine": 1, "group": 2}
    assert row_refs(resp) == [three[0].case_reference]
    assert db.session.get(TaskRow, three[0].id).assignee == "gestionnaire"
    g.post(f"/taches/{three[0].id}/liberer")
    db.session.expire_all()
    assert db.session.get(TaskRow, three[0].id).assignee is None
    types = [e.type for e in db.session.scalars(db.select(AuditEvent).where(AuditEvent.task_id == three[0].id))]
    assert types == ["task_claimed", "task_released"]


def test_all_tab_for_managers_only(app, three):
    r = login(app, "responsable")
    resp = r.get("/taches/?onglet=all")
    assert counts(resp) == {"mine": 0, "group": 0, "all": 3}
    assert len(row_refs(resp)) == 3
    g = login(app, "gestionnaire")
    resp = g.get("/taches/?onglet=all")
    assert resp.status_code == 200 and "réservé aux responsables" in text(resp)
    assert counts(resp) == {"mine": 0, "group": 3}


def test_default_sort_is_due_date_and_rows_stand_out(app, three):
    resp = login(app, "gestionnaire").get("/taches/?onglet=group")
    assert row_refs(resp) == [three[1].case_reference, three[2].case_reference, three[0].case_reference]
    html = resp.get_data(as_text=True)
    assert html.count('class="row-overdue"') == 1 and html.count('class="row-soon"') == 1
    assert "en retard" in text(resp) and "bientôt" in text(resp)


@pytest.mark.parametrize("sort, order", [("created", [2, 1, 0]), ("priority", [1, 2, 0]), ("due", [1, 2, 0])])
def test_sorts(app, three, sort, order):
    from app import clock

    # distinct creation times: the frozen clock gave them all the same one
    for i, row in enumerate(three):
        set_task(row, created_at=clock.now().replace(minute=i))
    resp = login(app, "gestionnaire").get(f"/taches/?onglet=group&tri={sort}")
    assert row_refs(resp) == [three[i].case_reference for i in order]


def test_unknown_sort_and_bad_days_fall_back_with_a_message(app, three):
    resp = login(app, "gestionnaire").get("/taches/?onglet=group&tri=evil&sous=abc")
    assert resp.status_code == 200
    page = text(resp)
    assert "Tri inconnu" in page and "entre 0 et 366" in page
    assert len(row_refs(resp)) == 3


@pytest.mark.parametrize("query, expected", [
    ("retard=1", [1]), ("sous=3", [2]), ("sous=10", [2, 0]), ("canal=phone", [1]),
    ("q=lef", [0]), ("q=50%25", [1]), ("q=%25", [1]), ("q=n%25", []), ("q=_", [2]), ("q=REC-2026-000003", [2]),
    ("processus=litige", []), ("etape=ut_qualify", [1, 2, 0]), ("etape=ut_analyse", []),
])
def test_filters_and_search(app, three, query, expected):
    resp = login(app, "gestionnaire").get(f"/taches/?onglet=group&{query}")
    assert resp.status_code == 200
    assert row_refs(resp) == [three[i].case_reference for i in expected]
    assert counts(resp)["group"] == len(expected)


def test_pagination(app, deployed):
    from app.tasks import forms

    made = [set_task(ready_task(start_case(customer_name=f"Client {i}", description=f"Texte {i} unique {i * 7}")),
                     due_in_days=i + 1) for i in range(forms.PER_PAGE + 3)]
    g = login(app, "gestionnaire")
    first = g.get("/taches/?onglet=group")
    assert len(row_refs(first)) == forms.PER_PAGE and "Page 1 / 2" in text(first)
    second = g.get("/taches/?onglet=group&page=2")
    assert row_refs(second) == [r.case_reference for r in made[forms.PER_PAGE:]]
    assert 'rel="prev"' in second.get_data(as_text=True)


def test_reassign_to_lane_member_only(app, three):
    from app.services.people.users import create_user

    create_user("gestionnaire2", "demo", ["gestionnaire"])
    r = login(app, "responsable")
    page = r.get(f"/taches/{three[0].id}").get_data(as_text=True)
    select = page.split('id="assignee"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'value="(\w+)"', select) == ["admin", "gestionnaire", "gestionnaire2"]  # lane members
    resp = r.post(f"/taches/{three[0].id}/reattribuer", data={"assignee": "gestionnaire2"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(TaskRow, three[0].id).assignee == "gestionnaire2"
    resp = r.post(f"/taches/{three[0].id}/reattribuer", data={"assignee": "service"})
    assert resp.status_code == 422 and "n'appartient pas au groupe" in text(resp)
    assert login(app, "gestionnaire").post(f"/taches/{three[1].id}/reattribuer",
                                           data={"assignee": "gestionnaire"}).status_code == 403


def test_bulk_claim_reports_each_task(app, three):
    other = login(app, "admin")
    other.post(f"/taches/{three[1].id}/prendre")
    g = login(app, "gestionnaire")
    resp = g.post("/taches/lot", data={"action": "claim", "task_ids": [t.id for t in three]},
                  follow_redirects=True)
    page = text(resp)
    assert "2 tâche(s) traitée(s) sur 3" in page
    assert f"{three[0].case_reference} — Qualifier la réclamation : prise." in page
    assert f"{three[1].case_reference} — Qualifier la réclamation : Cette tâche est déjà prise par admin." in page
    db.session.expire_all()
    assert [db.session.get(TaskRow, t.id).assignee for t in three] == ["gestionnaire", "admin", "gestionnaire"]


def test_bulk_reassign_by_manager(app, three):
    r = login(app, "responsable")
    resp = r.post("/taches/lot", data={"action": "reassign", "assignee": "gestionnaire",
                                       "task_ids": [three[0].id, three[2].id]}, follow_redirects=True)
    assert "2 tâche(s) traitée(s) sur 2" in text(resp)
    db.session.expire_all()
    assert db.session.get(TaskRow, three[2].id).assignee == "gestionnaire"
    resp = r.post("/taches/lot", data={"action": "reassign", "assignee": "service", "task_ids": [three[1].id]},
                  follow_redirects=True)
    assert "0 tâche(s) traitée(s) sur 1" in text(resp) and "n'appartient pas au groupe" in text(resp)
    # a handler cannot reassign in bulk either
    resp = login(app, "gestionnaire").post("/taches/lot", data={
        "action": "reassign", "assignee": "gestionnaire", "task_ids": [three[1].id]})
    assert resp.status_code == 403


def test_bulk_without_selection(app, three):
    resp = login(app, "gestionnaire").post("/taches/lot", data={"action": "claim"}, follow_redirects=True)
    assert "Sélectionnez au moins une tâche" in text(resp)


def test_auditor_reads_but_every_write_is_403(app, three):
    a = login(app, "auditeur")
    assert a.get("/taches/?onglet=all").status_code == 200
    assert a.get(f"/taches/{three[0].id}").status_code == 200
    for url, data in [(f"/taches/{three[0].id}/prendre", {}), (f"/taches/{three[0].id}/liberer", {}),
                      (f"/taches/{three[0].id}/reattribuer", {"assignee": "gestionnaire"}),
                      ("/taches/lot", {"action": "claim", "task_ids": [three[0].id]}),
                      (f"/taches/{three[0].id}", {"action": "draft"})]:
        assert a.post(url, data=data).status_code == 403, url
    db.session.expire_all()
    assert db.session.get(TaskRow, three[0].id).assignee is None


def test_claim_outside_lane_is_403(app, three):
    resp = login(app, "service").post(f"/taches/{three[0].id}/prendre")
    assert resp.status_code == 403 and "réservée au groupe « gestionnaire »" in text(resp)


def test_external_next_is_ignored(app, three):
    resp = login(app, "gestionnaire").post(f"/taches/{three[0].id}/prendre", data={"next": "//evil.example/x"})
    assert resp.location.endswith(f"/taches/{three[0].id}")


def test_undated_tasks_come_last_and_are_never_overdue(app, three):
    set_task(three[1], due_at=None)  # through the ORM: the sort key follows (TaskRow's before_update listener)
    assert db.session.get(TaskRow, three[1].id).due_key.year == 9999
    g = login(app, "gestionnaire")
    assert row_refs(g.get("/taches/?onglet=group")) == [three[2].case_reference, three[0].case_reference,
                                                         three[1].case_reference]
    assert row_refs(g.get("/taches/?onglet=group&tri=priority"))[-1] == three[0].case_reference  # priority 0
    assert row_refs(g.get("/taches/?onglet=group&retard=1")) == []
    assert row_refs(g.get("/taches/?onglet=group&sous=366")) == [three[2].case_reference, three[0].case_reference]


@pytest.mark.parametrize("query, expected", [
    ("q=lefevre", [0]), ("q=L%C3%89F%C3%88VRE", [0]), ("q=rec-2026-00000", [1, 2, 0]), ("q=REC-2026-000002", [1]),
])
def test_search_ignores_case_and_accents(app, three, query, expected):
    resp = login(app, "gestionnaire").get(f"/taches/?onglet=group&{query}")
    assert row_refs(resp) == [three[i].case_reference for i in expected]


def test_counts_stop_at_the_cap_and_pages_go_on(app, three, monkeypatch):
    from app.services.tasks import task_list
    from app.tasks import routes

    monkeypatch.setattr(task_list, "COUNT_CAP", 2)
    monkeypatch.setattr(routes, "PER_PAGE", 2)
    g = login(app, "gestionnaire")
    first = g.get("/taches/?onglet=group")
    assert row_refs(first) == [three[1].case_reference, three[2].case_reference]
    page = text(first)
    assert "Mon équipe 2+" in page and "2+ tâche(s) — page 1" in page and "Page 1 Suivante" in page
    second = g.get("/taches/?onglet=group&page=2")
    assert row_refs(second) == [three[0].case_reference]
    assert 'rel="next"' not in second.get_data(as_text=True) and 'rel="prev"' in second.get_data(as_text=True)
    assert counts(g.get("/taches/?onglet=group&q=lef")) == {"mine": 0, "group": 1}  # under the cap: exact


def test_past_the_cap_a_small_tab_is_still_counted_and_paged_exactly(app, three, monkeypatch):
    from app.services.tasks import task_list

    monkeypatch.setattr(task_list, "COUNT_CAP", 2)
    g = login(app, "gestionnaire")
    g.post(f"/taches/{three[2].id}/prendre")
    resp = g.get("/taches/?onglet=mine")  # three rows in the tabs together: past the cap, each tab counted alone
    assert counts(resp) == {"mine": 1, "group": 2}
    assert row_refs(resp) == [three[2].case_reference]
    resp = login(app, "responsable").get("/taches/?onglet=group")
    assert counts(resp) == {"mine": 0, "group": 0} and row_refs(resp) == []
