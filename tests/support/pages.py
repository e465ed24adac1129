"""Helpers for page tests: signed-in test clients and cases started through the services."""

import re
from datetime import timedelta
from html import unescape

from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import TaskRow, User
from app.services.cases import lifecycle as cases
from tests.support.flows import complaint_data


class UserClient(FlaskClient):
    """A test client whose requests never reuse another client's signed-in user.

    Tests run inside an app context (the `ctx` fixture), which requests then share; Flask-Login caches
    the current user on `g`, so without this a request would see the user of the previous request.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def login(app, username: str):
    """A test client signed in as a demo user (the session Flask-Login keeps; the login page has its own tests)."""
    client = UserClient(app, app.response_class, use_cookies=True)
    from app.services.people import sessions

    with client.session_transaction() as session:
        signed_in = user(username)
        session["_user_id"] = str(signed_in.id)
        session["_fresh"] = True
        sessions.begin(session, signed_in)
    return client


def user(username: str) -> User:
    return db.session.scalars(select(User).where(User.username == username)).one()


def start_case(**overrides):
    """Start a complaint as accueil; return the case."""
    return cases.start_case(user("accueil"), "reclamation", complaint_data(**overrides))


def ready_task(case, bpmn_id: str | None = None) -> TaskRow:
    rows = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready")).all()
    if bpmn_id:
        rows = [r for r in rows if r.bpmn_id == bpmn_id]
    assert len(rows) == 1, [r.bpmn_id for r in rows]
    return rows[0]


def set_task(row: TaskRow, *, due_in_days: float | None = None, **values) -> TaskRow:
    """Change task row columns directly (to set up list filters and sorts)."""
    if due_in_days is not None:
        row.due_at = clock.now() + timedelta(days=due_in_days)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.commit()
    return row


def text(resp) -> str:
    """The page's visible text, tags removed, whitespace collapsed."""
    html = resp.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def row_refs(resp) -> list[str]:
    """The case references of the task list's rows, in order."""
    html = resp.get_data(as_text=True)
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'href="/taches/[^"]+">((?:REC|LIT)-\d{4}-\d{6})</a>', body)


def fill(rule, values: dict) -> str:
    args = {}
    for name in rule.arguments:
        if name in values:
            args[name] = values[name]
        elif type(rule._converters[name]).__name__ == "IntegerConverter":
            args[name] = 1
        else:
            args[name] = "1"
    return rule.build(args, append_unknown=False)[1]
