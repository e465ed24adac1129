"""Hostile input: XML bombs and external entities, script-engine escapes, oversized bodies, SQL wildcards in
searches, brute force on the sign-in forms."""

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.engine import DefinitionError, EngineError, RestrictedScriptEngine
from app.extensions import db
from app.models import ProcessDefinition
from app.services.core import definitions
from app.services.people.users import by_username
from app.services.quality import capa
from tests.support.setup import PROCESSES

BPMN_HEAD = '<?xml version="1.0"?>\n'
ROOT = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
        'targetNamespace="t"><bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
        '<bpmn:endEvent id="e" name="{body}"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>'
        '</bpmn:process></bpmn:definitions>')
LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
HOSTILE = {
    "billion laughs": BPMN_HEAD + '<!DOCTYPE d [<!ENTITY lol0 "lol">' + LAUGHS + "]>" + ROOT.format(body="&lol9;"),
    "quadratic blowup": BPMN_HEAD + '<!DOCTYPE d [<!ENTITY a "' + "x" * 50_000 + '">]>'
    + ROOT.format(body="&a;" * 1000),
    "external entity": BPMN_HEAD + '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    + ROOT.format(body="&xxe;"),
    "parameter entity": BPMN_HEAD + '<!DOCTYPE d [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/x.dtd"> %ext;]>'
    + ROOT.format(body="x"),
    "external DTD": BPMN_HEAD + '<!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd">' + ROOT.format(body="x"),
    "oversized": BPMN_HEAD + ROOT.format(body="x" * (3 * 1024 * 1024)),
}
ESCAPES = [
    "__import__('os').system('id')",
    "().__class__.__base__.__subclasses__()",
    "'{0.__class__.__mro__}'.format(1)",
    "getattr(1, '__class__')",
    "eval('1')",
    "exec('x = 1')",
    "open('/etc/passwd').read()",
    "[c for c in ().__class__.__bases__]",
    "(lambda: 1).__globals__",
    "globals()['__builtins__']",
]


def definitions_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessDefinition))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_xml_is_refused_at_deploy_and_writes_nothing(ctx, name):
    with pytest.raises(DefinitionError):
        definitions.deploy_xml(HOSTILE[name], "proprietaire", "bomb.bpmn")
    db.session.rollback()
    assert definitions_count() == 0


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_xml_is_refused_by_the_upload_api(api, name):
    resp = api.post("proprietaire", "/api/process-definitions", data=HOSTILE[name],
                    content_type="application/xml")
    assert 400 <= resp.status_code < 500 and resp.status_code != 404, resp.status_code
    assert resp.is_json and "error" in resp.get_json()
    assert definitions_count() == 0


def _with_condition(expression: str) -> str:
    xml = (PROCESSES / "reclamation.bpmn").read_text(encoding="utf-8")
    marker = 'kind == "complaint"'
    assert marker in xml
    return xml.replace(marker, expression.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;"), 1)


@pytest.mark.parametrize("expression", ESCAPES)
def test_script_escapes_are_refused_at_deploy(ctx, expression):
    with pytest.raises(DefinitionError):
        definitions.deploy_xml(_with_condition(expression), "proprietaire", "reclamation.bpmn")
    db.session.rollback()
    assert definitions_count() == 0


@pytest.mark.parametrize("expression", ESCAPES)
def test_script_escapes_are_refused_at_run_time(expression):
    """The engine checks again before evaluating: a definition that bypassed deploy still cannot escape."""
    task = SimpleNamespace(task_spec=SimpleNamespace(name="gw_kind"), data={})
    engine = RestrictedScriptEngine()
    with pytest.raises(EngineError, match="refusé"):
        engine.evaluate(task, expression)
    with pytest.raises(EngineError, match="refusé"):
        engine.execute(task, f"x = {expression}")


def test_safe_expressions_still_run():
    task = SimpleNamespace(task_spec=SimpleNamespace(name="gw"), data={"amount": 120, "kind": "complaint"})
    engine = RestrictedScriptEngine()
    assert engine.evaluate(task, 'amount > 100 and kind == "complaint"') is True


def test_oversized_api_body_is_413_json_and_writes_nothing(app, api, deployed):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    big = {"process": "reclamation", "data": {"customer_name": "x", "description": "y" * 100_000}}
    resp = api.post("accueil", "/api/cases", json=big)
    assert resp.status_code == 413 and resp.is_json and resp.get_json()["error"]
    upload = api.post("proprietaire", "/api/process-definitions", data=b"<a/>" * 20_000,
                      content_type="application/xml")
    assert upload.status_code == 413 and upload.is_json


def test_oversized_form_post_is_413(app, client, deployed):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    resp = client.post("/login", data={"username": "x" * 100_000, "password": "demo"})
    assert resp.status_code == 413


def test_sql_wildcards_in_searches_are_taken_literally(deployed):
    quality = by_username("qualite")
    for title in ("Remise de 50% sur facture", "Remise de 500 euros", "Client_VIP relancé", "ClientAVIP"):
        capa.create_action(quality, {"kind": "corrective", "title": title, "owner": "qualite",
                                     "due_on": date(2026, 12, 31).isoformat()})

    def titles(q):
        return sorted(a.title for a, _ in capa.list_actions(quality, q=q))

    assert titles("50%") == ["Remise de 50% sur facture"]
    assert titles("%") == ["Remise de 50% sur facture"]
    assert titles("_") == ["Client_VIP relancé"]
    assert titles("Client_") == ["Client_VIP relancé"]
    assert titles("\\") == []
    assert len(titles("Remise")) == 2


@pytest.fixture
def limited(app):
    app.config["RATELIMIT_ENABLED"] = True
    app.config["LOGIN_RATELIMIT"] = "3 per minute"
    from app.web import limiter

    limiter.init_app(app)  # re-read the switch (conftest turns limits off)
    with app.app_context():  # the database:// storage (PostgreSQL) works in the current app's database
        limiter.reset()
    yield app
    with app.app_context():
        limiter.reset()


def test_login_page_is_rate_limited(limited, client, users):
    statuses = [client.post("/login", data={"username": "gestionnaire", "password": "wrong"}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Even the right password is refused while the limit holds: brute force cannot get through.
    assert client.post("/login", data={"username": "gestionnaire", "password": "demo"}).status_code == 429


def test_api_login_is_rate_limited_with_a_json_answer(limited, client, users):
    statuses = [client.post("/api/login", json={"username": "gestionnaire", "password": "wrong"}).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 401]
    resp = client.post("/api/login", json={"username": "gestionnaire", "password": "demo"})
    assert resp.status_code == 429 and resp.is_json and resp.get_json()["error"]
