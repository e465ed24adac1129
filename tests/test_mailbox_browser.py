"""In chromium: the reception desk opens the mailbox's quarantine, reads a held mail and releases it; the case
it opens shows the mail. MAILBOX_SCREENSHOTS=DIR keeps the screenshots (README: docs/mailbox-*.png)."""

import os
import re
from pathlib import Path

import pytest

from app.services.mailbox import fetcher
from tests.support.live import CHROMIUM, LiveServer, launch
from tests.support.mails import PDF, mail

SHOTS = Path(os.environ["MAILBOX_SCREENSHOTS"]) if os.environ.get("MAILBOX_SCREENSHOTS") else None
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
sync_api = pytest.importorskip("playwright.sync_api")


def test_reception_releases_a_quarantined_mail_in_the_browser(app, deployed, mailbox, backend):
    if backend != "sqlite":
        pytest.skip("the browser journey runs once, on SQLite")
    app.config.update(WTF_CSRF_ENABLED=True, MAIL_BLOCKED_SENDERS="@partenaire.example")
    mailbox.append(mail(sender="Claire Martin <claire.martin@partenaire.example>",
                        subject="Livraison incomplète, commande 8841",
                        text="Bonjour,\nIl manque deux cartons à la livraison du 20 novembre.\nCordialement,\nClaire",
                        files=[("bon-de-livraison.pdf", "application/pdf", PDF)]))
    mailbox.append(mail(sender="Paul Henri <paul.henri@example.fr>", subject="Facture FA-2026-0107 erronée"))
    fetcher.fetch_once()
    with LiveServer(app) as live, sync_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_context(viewport={"width": 1200, "height": 800}, locale="fr-FR").new_page()
        page.set_default_timeout(15000)
        page.goto(f"{live.url}/login")
        page.get_by_label("Identifiant").fill("accueil")
        page.get_by_label("Mot de passe").fill("demo")
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_role("link", name="Courriels").click()
        page.wait_for_url(re.compile(r"/courriels/"))
        assert page.get_by_role("link", name="Quarantaine (1)").is_visible()
        if SHOTS:
            page.screenshot(path=str(SHOTS / "mailbox-quarantine.png"), full_page=True)
        page.get_by_role("link", name="Livraison incomplète, commande 8841").click()
        assert page.get_by_text("Il manque deux cartons").is_visible()
        assert page.get_by_text("bon-de-livraison.pdf").is_visible()
        page.get_by_role("button", name="Relâcher (traiter normalement)").click()
        flash = page.get_by_text(re.compile(r"Courriel relâché : Dossier ouvert \(REC-2026-\d+\)"))
        assert flash.is_visible()
        reference = re.search(r"REC-2026-\d+", flash.inner_text()).group(0)
        page.get_by_role("link", name="Tous les courriels (2)").click()
        assert page.get_by_role("link", name=reference).count() == 1
        page.get_by_role("link", name=reference).click()
        page.wait_for_url(re.compile(reference))
        assert page.get_by_text("bon-de-livraison.pdf").first.is_visible()
        browser.close()
