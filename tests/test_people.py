"""People management for admins (list, deactivate, reactivate) and absences, with the tasks following."""

import html

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AuditEvent, TaskRow
from app.services.people.users import by_username, create_user
from tests.support.flows import complaint_data, start
from tests.support.pages import UserClient


def signed_in(app, username, password="demo"):
    """Signed in through the login page (which records the last sign-in); requests never reuse another
    client's user (tests/support/pages.py)."""
    client = UserClient(app, app.response_class, use_cookies=True)
    assert client.post("/login", data={"username": username, "password": password}).status_code == 302
    return client


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


@pytest.fixture
def claimed(app, api, deployed):
    """Two cases whose qualification task the user gestionnaire holds, and a second gestionnaire."""
    create_user("gestionnaire2", "demo", ["gestionnaire"])
    rows = []
    for i in range(2):
        ref = start(api, **complaint_data(customer_name=f"Client {i}"))["reference"]
        task = api.get("admin", f"/api/cases/{ref}").get_json()["tasks"][0]
        assert api.post("gestionnaire", f"/api/tasks/{task['id']}/claim").status_code == 200
        rows.append((ref, task["id"]))
    return rows


def events(type_: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)))


def test_people_page_lists_groups_last_sign_in_and_held_tasks(app, claimed):
    clock.set_now(clock.now().replace(hour=14, minute=5))
    admin = signed_in(app, "admin")
    page = admin.get("/admin/personnes")
    assert page.status_code == 200
    body = text(page)
    assert body.count('aria-current="page"') == 1 and '<a href="/admin/personnes" aria-current="page">' in body
    assert "<th scope=\"row\">gestionnaire</th>" in body and "gestionnaire2" in body
    row = body.split('<th scope="row">gestionnaire</th>')[1].split("</tr>")[0]
    assert "local" in row and "actif" in row and "<td>2</td>" in row  # two tasks held
    assert "jamais" in body.split('<th scope="row">gestionnaire2</th>')[1].split("</tr>")[0]
    admin_row = body.split('<th scope="row">admin</th>')[1].split("</tr>")[0]
    assert "23/11/2026 15:05" in admin_row  # last sign-in, Paris time (UTC+1)
    assert signed_in(app, "gestionnaire").get("/admin/personnes").status_code == 403


def test_deactivate_hands_claimed_tasks_back_to_the_group_on_each_trail(app, claimed):
    admin = signed_in(app, "admin")
    resp = admin.post("/admin/personnes/gestionnaire/desactiver", follow_redirects=True)
    assert "Compte gestionnaire désactivé ; 2 tâche(s) rendue(s) à leur groupe." in text(resp)
    db.session.expire_all()
    assert not by_username("gestionnaire").active
    for _, task_id in claimed:
        assert db.session.get(TaskRow, task_id).assignee is None
    released = events("task_released")
    assert len(released) == 2 and {e.case_id for e in released} == {
        db.session.get(TaskRow, t).case_id for _, t in claimed}
    assert all(e.actor == "admin" and e.data == {"previous": "gestionnaire", "reason": "compte désactivé"}
               for e in released)
    assert [e.data["username"] for e in events("user_deactivated")] == ["gestionnaire"]
    refused = UserClient(app, app.response_class).post("/login", data={"username": "gestionnaire",
                                                                         "password": "demo"})
    assert refused.status_code == 401
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    again = admin.post("/admin/personnes/admin/desactiver", follow_redirects=True)
    assert "propre compte" in text(again) and by_username("admin").active
    back = admin.post("/admin/personnes/gestionnaire/reactiver", follow_redirects=True)
    assert "Compte gestionnaire réactivé." in text(back)
    assert signed_in(app, "gestionnaire")
    assert signed_in(app, "gestionnaire").post("/admin/personnes/admin/desactiver").status_code == 403


def test_absence_with_a_delegate_moves_tasks_of_their_lanes(app, claimed):
    me = signed_in(app, "gestionnaire")
    page = text(me.get("/absence"))
    assert "gestionnaire2" in page and "Mon groupe" in page
    assert ">service<" not in page  # no common group: not offered
    resp = me.post("/absence", data={"delegate": "gestionnaire2"}, follow_redirects=True)
    assert "2 tâche(s) confiée(s) à votre remplaçant, 0 rendue(s) à leur groupe" in text(resp)
    db.session.expire_all()
    assert all(db.session.get(TaskRow, t).assignee == "gestionnaire2" for _, t in claimed)
    moved = events("task_reassigned")
    assert len(moved) == 2 and all(e.data == {"previous": "gestionnaire", "assignee": "gestionnaire2",
                                              "reason": "absence"} for e in moved)
    user = by_username("gestionnaire")
    assert user.absent_since == clock.now() and user.absence_delegate == "gestionnaire2"
    assert "remplacé par gestionnaire2" in text(signed_in(app, "admin").get("/admin/personnes"))
    end = me.post("/absence/fin", follow_redirects=True)
    assert "votre absence est terminée" in text(end)
    db.session.expire_all()
    assert by_username("gestionnaire").absent_since is None
    assert [e.type for e in events("absence_started") + events("absence_ended")] == ["absence_started",
                                                                                    "absence_ended"]


def test_absence_back_to_the_group_and_invalid_delegates(app, claimed):
    me = signed_in(app, "gestionnaire")
    colleague = signed_in(app, "gestionnaire2")
    assert 'value="gestionnaire"' in text(colleague.get("/absence"))
    bad = me.post("/absence", data={"delegate": "service"})  # shares no group: not a choice
    assert bad.status_code == 422
    db.session.expire_all()
    assert all(db.session.get(TaskRow, t).assignee == "gestionnaire" for _, t in claimed)
    resp = me.post("/absence", data={"delegate": ""}, follow_redirects=True)
    assert "0 tâche(s) confiée(s) à votre remplaçant, 2 rendue(s) à leur groupe" in text(resp)
    db.session.expire_all()
    assert all(db.session.get(TaskRow, t).assignee is None for _, t in claimed)
    assert 'value="gestionnaire"' not in text(colleague.get("/absence"))  # absent: no longer offered
    assert signed_in(app, "auditeur").post("/absence", data={"delegate": ""}).status_code == 403


def test_an_absent_person_is_not_offered_nor_given_tasks(app, api, claimed):
    _, task_id = claimed[0]
    assert api.post("gestionnaire", f"/api/tasks/{task_id}/unclaim").status_code == 200
    signed_in(app, "gestionnaire2").post("/absence", data={"delegate": ""})
    manager = signed_in(app, "responsable")
    page = text(manager.get(f"/taches/{task_id}"))
    assert 'value="gestionnaire"' in page and 'value="gestionnaire2"' not in page
    resp = manager.post(f"/taches/{task_id}/reattribuer", data={"assignee": "gestionnaire2"}, follow_redirects=True)
    assert "gestionnaire2 est déclaré absent" in text(resp)
    db.session.expire_all()
    assert db.session.get(TaskRow, task_id).assignee is None
