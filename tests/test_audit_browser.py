"""Browser test (chromium through Playwright): the audit path on the diagram moves with the event slider.

A real server runs on a free port for the test and is stopped at the end; SQLite file database.
"""

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]

sync_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
    pytest.skip("chromium not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    from werkzeug.serving import make_server

    from app import clock, create_app
    from app.extensions import db
    from app.models import User
    from app.services.cases import lifecycle as cases
    from app.services.core.definitions import deploy_files
    from app.services.tasks import actions as tasks
    from tests.support.flows import complaint_data
    from tests.support.setup import START, make_users

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}",
                      "SECRET_KEY": "browser", "RATELIMIT_ENABLED": False,
                      "AUDIT_KEY_DIR": str(tmp_path / "keys"), "AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints")})
    clock.set_now(START)
    with app.app_context():
        db.create_all()
        make_users(("accueil", "gestionnaire", "auditeur"))
        deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "test")
        users = {u.username: u for u in db.session.query(User)}
        case = cases.start_case(users["accueil"], "reclamation", complaint_data())
        row = tasks.ready_for_case(case.id)[0]
        cases.complete_task(users["gestionnaire"], row.id, {"admissible": "yes", "category": "billing",
                                                              "severity": "high", "department": "billing"})
        reference = case.reference
    port = _free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", reference
    httpd.shutdown()
    thread.join(timeout=10)
    clock.set_now(None)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_path_marks_move_with_the_slider(server, tmp_path):
    base, reference = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(base_url=base).new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/login")
            page.fill("input[name=username]", "auditeur")
            page.fill("input[name=password]", "demo")
            page.click("button[type=submit]")
            page.goto(f"/audit/cases/{reference}")
            page.wait_for_selector("#audit-diagram[data-ready=true]", timeout=20000)
            # last event: qualification done, analysis is the active token, ut_qualify visited once
            assert page.locator('[data-element-id="ut_qualify"].audit-done').count() == 1
            assert page.locator('[data-element-id="ut_analyse"].audit-active').count() == 1
            assert page.locator(".audit-visit-count").count() >= 8
            page.fill("#audit-slider", "0")
            page.dispatch_event("#audit-slider", "input")
            # first event: the case just started, qualification is the active token
            assert page.locator('[data-element-id="ut_qualify"].audit-active').count() == 1
            assert page.locator('[data-element-id="ut_qualify"].audit-done').count() == 0
            assert "Événement 1" in page.locator("#audit-current").inner_text()
            page.click("#audit-next")
            assert "Événement 2" in page.locator("#audit-current").inner_text()
            page.screenshot(path=str(tmp_path / "audit-path.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


def test_print_button_works_under_the_content_security_policy(server):
    base, reference = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(base_url=base)
            # The print dialog cannot be driven headless: record the call instead.
            context.add_init_script("window.__printed = 0; window.print = () => { window.__printed += 1; };")
            page = context.new_page()
            refused = []
            page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
            page.goto("/login")
            page.fill("input[name=username]", "auditeur")
            page.fill("input[name=password]", "demo")
            page.click("button[type=submit]")
            page.goto(f"/audit/cases/{reference}/print")
            page.get_by_role("button", name="Imprimer").click()
            page.wait_for_function("window.__printed === 1", timeout=5000)
            assert refused == []
        finally:
            browser.close()
