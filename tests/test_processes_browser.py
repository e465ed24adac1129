"""Browser tests (chromium through Playwright): the modeler edits and deploys; every MIWG diagram opens.

A real server runs on a free port for the module and is stopped at the end; SQLite file database.
"""

import json
import shutil
import socket
import threading
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
MIWG = sorted((ROOT / "tests" / "miwg").glob("*.bpmn"))
NEW_NAME = "Qualifier et prioriser la réclamation"

sync_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
    pytest.skip("chromium not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server

    from app import clock, create_app
    from app.extensions import db
    from app.services.core.definitions import deploy_files
    from tests.support.setup import START, make_users

    path = tmp_path_factory.mktemp("browser") / "app.db"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "browser",
                      "RATELIMIT_ENABLED": False})
    clock.set_now(START)
    with app.app_context():
        db.create_all()
        make_users(("accueil", "gestionnaire", "proprietaire", "auditeur"))
        deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "test")
    port = _free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{port}"
    httpd.shutdown()
    thread.join(timeout=10)
    clock.set_now(None)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def _login(browser, base, username):
    context = browser.new_context(base_url=base)
    page = context.new_page()
    errors = []
    # a missing favicon is the browser's business; any other failed load or script error fails the test
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "404" not in msg.text
            else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page, errors


def _active_id(app, key="reclamation"):
    from app.services.core.definitions import active

    with app.app_context():
        return active(key).id


@pytest.fixture(scope="module")
def owner_modeler(server, browser):
    app, base = server
    page, errors = _login(browser, base, "proprietaire")
    page.goto(f"/processus/versions/{_active_id(app)}/modeleur")
    page.wait_for_selector("#canvas[data-loaded=true]", timeout=30000)
    yield page, errors
    page.context.close()


def test_rename_a_task_in_the_properties_panel_save_deploy_and_see_it_in_new_cases(server, browser):
    app, base = server
    page, errors = _login(browser, base, "proprietaire")
    page.goto(f"/processus/versions/{_active_id(app)}/modeleur")
    page.wait_for_selector("#canvas[data-loaded=true]", timeout=30000)
    page.click('g.djs-element[data-element-id="ut_qualify"]')
    page.click("[data-group-id='group-general'] .bio-properties-panel-group-header")
    name = page.locator("#bio-properties-panel-name")
    name.wait_for(timeout=10000)
    assert name.input_value() == "Qualifier la réclamation"
    # the Camunda 7 provider is active: user task form fields are edited in the panel (6 on this task)
    fields = page.locator("[data-group-id='group-CamundaPlatform__FormData'] .bio-properties-panel-group-header")
    assert "6" in fields.inner_text()
    name.fill(NEW_NAME)
    page.wait_for_timeout(400)  # the panel applies the change after its debounce
    page.click("#save")
    page.wait_for_selector("#canvas[data-saved]", timeout=15000)
    assert "prêt à être déployé" in page.inner_text("#modeler-status")
    page.screenshot(path="/tmp/modeler-saved.png")
    page.click("#deploy")
    page.wait_for_load_state()
    assert "Version 2" in page.inner_text("main")

    api = page.context.request
    token = api.post("/api/login", data=json.dumps({"username": "accueil", "password": "demo"}),
                     headers={"Content-Type": "application/json"}).json()["token"]
    resp = api.post("/api/cases", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    data=json.dumps({"process": "reclamation", "data": {
                        "channel": "email", "origin": "external_customer", "kind": "complaint",
                        "customer_name": "Claire Petit", "description": "Colis abîmé.", "written": "yes"}}))
    assert resp.status == 201, resp.text()
    case = resp.json()
    assert case["version"] == 2 and [t["name"] for t in case["tasks"]] == [NEW_NAME]
    token = api.post("/api/login", data=json.dumps({"username": "gestionnaire", "password": "demo"}),
                     headers={"Content-Type": "application/json"}).json()["token"]
    listed = api.get("/api/tasks", headers={"Authorization": f"Bearer {token}"}).json()["tasks"]
    assert any(t["case"] == case["reference"] and t["name"] == NEW_NAME for t in listed)
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("path", MIWG, ids=lambda p: p.name)
def test_miwg_diagram_imports_in_the_modeler(owner_modeler, path):
    page, errors = owner_modeler
    result = page.evaluate("""async (xml) => {
        try { const r = await window.processModeler.importXML(xml); return {ok: true, warnings: r.warnings.length}; }
        catch (e) { return {ok: false, error: String(e && e.message || e)}; } }""", path.read_text(encoding="utf-8"))
    assert result["ok"], result
    assert page.locator(".djs-element").count() > 1
    assert errors == []


def test_miwg_diagrams_open_in_the_viewer(server, browser):
    app, base = server
    page, errors = _login(browser, base, "auditeur")
    page.goto(f"/processus/versions/{_active_id(app, 'litige')}/diagramme")
    page.wait_for_selector("#canvas[data-loaded=true]", timeout=30000)
    for path in MIWG:
        xml = path.read_text(encoding="utf-8")
        result = page.evaluate("""async (xml) => {
            try { await window.processViewer.importXML(xml); return {ok: true}; }
            catch (e) { return {ok: false, error: String(e && e.message || e)}; } }""", xml)
        assert result["ok"], (path.name, result)
    assert errors == []
    page.context.close()
