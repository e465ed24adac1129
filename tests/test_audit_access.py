"""Auditors read everything and change nothing: every write route of the URL map answers 403 to them.

The routes are read from app.url_map at run time, so a write route added later is covered without
touching this file. The only exceptions are in app/access.py READ_ONLY_ALLOWED (sign in and out).
"""

from sqlalchemy import func, select

from app.access import READ_ONLY_ALLOWED, WRITE_METHODS
from app.extensions import db
from app.models import AuditEvent, Case, OutboxMessage, TaskRow
from tests.support.flows import complaint_data, start

# Values for URL arguments, by name: real objects, so a route cannot answer 404 before checking the role.
KNOWN_ARGS = {"key": "reclamation", "process": "reclamation", "version": 1}


def _fill(rule, values: dict) -> str:
    args = {}
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        if name in values:
            args[name] = values[name]
        elif converter == "IntegerConverter":
            args[name] = 1
        elif name.endswith("_id") or name == "id":
            args[name] = values.get("task_id") if "task" in name else "1"
        else:
            args[name] = values.get("reference")
    return rule.build(args, append_unknown=False)[1]


def write_routes(app) -> list[tuple]:
    routes = [(rule, method) for rule in app.url_map.iter_rules()
              for method in sorted(rule.methods & WRITE_METHODS) if rule.endpoint not in READ_ONLY_ALLOWED]
    return sorted(routes, key=lambda item: (item[0].rule, item[1]))


def _snapshot():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.scalar(select(func.count()).select_from(OutboxMessage)),
            db.session.scalar(select(func.sum(Case.lock_version))),
            tuple(db.session.execute(select(TaskRow.id, TaskRow.state, TaskRow.assignee).order_by(TaskRow.id))))


def test_auditor_gets_403_on_every_write_route(app, client, deployed, api):
    reference = start(api, **complaint_data())["reference"]
    task_id = api.get("admin", f"/api/cases/{reference}").get_json()["tasks"][0]["id"]
    values = {**KNOWN_ARGS, "reference": reference, "task_id": task_id}
    token = api.token("auditeur")
    assert client.post("/login", data={"username": "auditeur", "password": "demo"}).status_code == 302
    routes = write_routes(app)
    endpoints = {rule.endpoint for rule, _ in routes}
    assert {"api.complete", "api.claim", "api.unclaim", "api.create_case", "api.retry"} <= endpoints
    before = _snapshot()
    wrong = []
    for rule, method in routes:
        url = _fill(rule, values)
        resp = client.open(url, method=method, json={"data": {"admissible": "yes"}, "process": "reclamation"},
                           headers={"Authorization": f"Bearer {token}"})
        if resp.status_code != 403:
            wrong.append(f"{method} {url} ({rule.endpoint}) -> {resp.status_code}")
    assert wrong == [], "write routes open to auditors:\n" + "\n".join(wrong)
    assert _snapshot() == before  # and nothing changed on the way


def test_auditor_can_still_read_and_sign_out(client, deployed, api):
    reference = start(api, **complaint_data())["reference"]
    assert api.get("auditeur", f"/api/cases/{reference}").status_code == 200
    assert api.get("auditeur", f"/api/cases/{reference}/history").status_code == 200
    assert client.post("/login", data={"username": "auditeur", "password": "demo"}).status_code == 302
    assert client.post("/logout").status_code == 302


def test_a_write_group_member_who_is_also_auditor_is_not_read_only(api, deployed):
    from app.services.people.users import create_user

    create_user("double", "demo", ["auditeur", "accueil"])
    resp = api.post("double", "/api/cases", json={"process": "reclamation", "data": complaint_data()})
    assert resp.status_code == 201
