"""CSRF: every state-changing HTML route refuses a POST without a token (400), and every POST form carries one."""

import re

import pytest
from flask import g
from sqlalchemy import func, select

from app import create_app
from app.access import WRITE_METHODS
from app.extensions import db
from app.models import AuditEvent, Case, OutboxMessage
from tests.support.flows import complaint_data, start
from tests.support.pages import fill

# Blueprints exempt from the global check that verify the token themselves and re-render the form with an
# error (422), so that a complainant whose page expired keeps what they typed (app/public/routes.py); 409 when
# there is nothing to answer (no survey pending). Either way nothing changes, which the test checks.
# Routes that check their token themselves (to give the page back with what was typed): what they may answer.
SELF_CHECKED = {"public": (409, 422), "tasks.submit": (404,), "cases.new_case": (404,)}
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def sign_in(client, username="admin"):
    g.pop("_login_user", None)
    page = client.get("/login").get_data(as_text=True)
    token = TOKEN.search(page).group(1)
    resp = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert resp.status_code == 302


def counts() -> tuple:
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.scalar(select(func.count()).select_from(Case)),
            db.session.scalar(select(func.count()).select_from(OutboxMessage)),
            db.session.scalar(select(func.sum(Case.lock_version))))


def html_write_routes(app):
    return sorted(((rule, method) for rule in app.url_map.iter_rules() if not rule.rule.startswith("/api/")
                   for method in rule.methods & WRITE_METHODS), key=lambda item: item[0].rule)


def test_login_without_token_is_refused(csrf_app, client, deployed):
    resp = client.post("/login", data={"username": "admin", "password": "demo"})
    assert resp.status_code == 400


def test_every_html_write_route_refuses_a_post_without_token(csrf_app, client, deployed, api):
    reference = start(api, **complaint_data())["reference"]
    sign_in(client)
    routes = html_write_routes(csrf_app)
    assert {"auth.logout", "admin.retry"} <= {rule.endpoint for rule, _ in routes}
    before = counts()
    token = db.session.scalars(select(Case.tracking_token).where(Case.reference == reference)).one()
    values = {"reference": reference, "task_id": "1", "key": "reclamation", "ref": "1", "token": token}
    accepted = []
    for rule, method in routes:
        url = fill(rule, values)
        resp = client.open(url, method=method, data={"anything": "1"})
        allowed = SELF_CHECKED.get(rule.endpoint, SELF_CHECKED.get(rule.endpoint.split(".")[0], ()))
        if resp.status_code not in (400, *allowed):
            accepted.append(f"{method} {url} ({rule.endpoint}) -> {resp.status_code}")
    assert accepted == [], "HTML write routes accepting a request without a CSRF token:\n" + "\n".join(accepted)
    assert counts() == before
    g.pop("_login_user", None)
    assert client.get("/me").status_code == 200  # still signed in: the refused logout did nothing


def test_every_post_form_on_the_pages_carries_a_token(csrf_app, client, deployed, api):
    reference = start(api, **complaint_data())["reference"]
    sign_in(client)
    values = {"reference": reference, "key": "reclamation", "ref": "1"}
    missing, seen = [], 0
    for rule in csrf_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static/")) or rule.endpoint == "auth.login":
            continue
        g.pop("_login_user", None)
        resp = client.get(fill(rule, values))
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            continue
        for form in FORM.findall(resp.get_data(as_text=True)):
            if re.search(r'method="post"', form, re.I):
                seen += 1
                if 'name="csrf_token"' not in form:
                    missing.append(f"{rule.endpoint}: {form[:120]}")
    assert seen > 0  # at least the logout form of the layout
    assert missing == [], "POST forms without csrf_token:\n" + "\n".join(missing)


def test_csrf_is_on_by_default(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/db.sqlite", "SECRET_KEY": "x"})
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    assert app.test_client().post("/login", data={"username": "a", "password": "b"}).status_code == 400
