"""In chromium: a complainant files a complaint on the public page, gets the reference, opens the tracking page
and adds a message; the real server runs on a free loopback port and is stopped at the end."""

import os
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from app.extensions import db
from app.models import AuditEvent, Case, OutboxMessage
from tests.support.axe import violations

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = Path(os.environ.get("PUBLIC_SCREENSHOTS", "")) if os.environ.get("PUBLIC_SCREENSHOTS") else None

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
sync_api = pytest.importorskip("playwright.sync_api")


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture
def server(app, deployed, backend):
    if backend != "sqlite":
        pytest.skip("the browser journey runs once, on SQLite")
    app.config["WTF_CSRF_ENABLED"] = True  # the real form, token included
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # bypass_csp only lets the test inject axe-core (tests/support/axe.py)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="fr-FR", bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def test_complainant_files_and_follows_a_complaint(app, server, page):
    page.goto(f"{server}/reclamation")
    assert violations(page) == []
    assert page.title().startswith("Nous écrire")
    page.get_by_label("Réclamation", exact=True).check()
    page.get_by_label("Numéros de factures concernées").fill("FA-2026-0077")
    page.get_by_role("textbox", name=re.compile(r"^Votre message")).fill("Box internet coupée depuis cinq jours.")
    page.get_by_label("Votre nom").fill("Chloé Besnard")
    page.get_by_label("Votre adresse e-mail").fill("chloe@example.fr")
    if SHOTS:
        page.screenshot(path=str(SHOTS / "public-intake.png"), full_page=True)
    page.get_by_role("button", name="Envoyer").click()

    page.wait_for_url(re.compile(r"/reclamation/confirmation$"))
    assert violations(page) == []
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Votre demande est enregistrée"
    # With an e-mail address, the reference and the tracking link go by e-mail only (nothing about the case on
    # screen, as for a submission merged into an existing case): the test follows the link of the mail.
    assert page.locator(".reference").count() == 0
    with app.app_context():
        case = db.session.scalars(select(Case).where(Case.customer_email == "chloe@example.fr")).one()
        token, channel, reference = case.tracking_token, case.channel, case.reference
        [ack] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).all()
    assert channel == "web" and re.fullmatch(r"REC-2026-\d{6}", reference)
    link = re.search(r"http://\S+/suivi/\S+", ack.body).group(0)
    assert link.endswith(f"/suivi/{token}")
    page.goto(f"{server}/suivi/{token}")
    page.wait_for_url(re.compile(rf"/suivi/{re.escape(token)}$"))
    assert violations(page) == []
    assert reference in page.get_by_role("heading", level=1).inner_text()
    assert page.locator(".status").inner_text() == "Enregistré"
    assert page.get_by_role("heading", name=f"Accusé de réception de votre réclamation {reference}").is_visible()
    page.get_by_label("Votre message").fill("Le technicien n'est pas venu au rendez-vous.")
    page.get_by_role("button", name="Envoyer").click()
    page.wait_for_url(re.compile(rf"/suivi/{re.escape(token)}$"))
    assert page.get_by_role("status").first.inner_text().startswith("Merci")
    assert page.get_by_text("Le technicien n'est pas venu au rendez-vous.").is_visible()
    if SHOTS:
        page.screenshot(path=str(SHOTS / "public-tracking.png"), full_page=True)
    with app.app_context():
        types = list(db.session.scalars(select(AuditEvent.type).join(Case).where(Case.reference == reference)))
    assert "complainant_message" in types
