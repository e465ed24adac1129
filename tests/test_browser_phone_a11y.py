"""Phones and accessibility in chromium: no horizontal scrolling at 390 px, axe-core without serious or critical
violations on every page the journeys visit, and the focus on the error summary after a failed submit."""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case
from tests.support.axe import AXE, PHONE, horizontal_overflow, violations
from tests.support.live import CHROMIUM, browser_page, serve
from tests.support.thread import answered_complaint

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
pytest.importorskip("playwright.sync_api")


@pytest.fixture
def server(app, deployed, backend):
    assert AXE.exists(), "axe-core missing: run `make install` (npm ci installs it into node_modules/)"
    with serve(app, backend, "the browser journeys") as live:
        yield live.url


@pytest.fixture
def phone(server):
    # bypass_csp: only so that the test can inject axe-core; the pages keep their policy for people
    with browser_page(PHONE, is_mobile=True, has_touch=True, bypass_csp=True) as page:
        yield page


def focused_on_summary(page) -> None:
    """The error summary takes the focus once forms.js (deferred) has run: waited for, not raced."""
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'erreurs'",
                           timeout=5000)


def check(page, problems: dict, name: str) -> None:
    """Record what is wrong with the page now: width beyond 390 px, serious or critical axe violations."""
    overflow = horizontal_overflow(page)
    found = violations(page)
    if overflow > 0:
        found.append(f"{overflow} px de défilement horizontal")
    if found:
        problems[name] = found


def test_public_journey_on_a_phone(app, server, phone):
    problems = {}
    phone.goto(f"{server}/reclamation")
    check(phone, problems, "intake")
    phone.get_by_role("button", name="Envoyer").click()
    phone.wait_for_selector(".error-summary")
    focused_on_summary(phone)
    check(phone, problems, "intake with errors")
    phone.get_by_label("Réclamation", exact=True).check()
    phone.get_by_label("Votre nom").fill("Lucie Fontaine")
    phone.get_by_label("Votre adresse e-mail").fill("lucie.fontaine@example.fr")
    phone.get_by_label("Votre message").fill("Compteur relevé deux fois : " + "FA-2026-" * 12 + "https://example.fr/"
                                              + "tres-long-lien-" * 8)
    phone.get_by_role("button", name="Envoyer").click()
    phone.wait_for_url(re.compile(r"/confirmation"))
    check(phone, problems, "confirmation")
    # The link goes by e-mail only (the confirmation discloses nothing): open it as the complainant would.
    filed = db.session.scalars(select(Case).where(Case.customer_email == "lucie.fontaine@example.fr")).one()
    phone.goto(f"{server}/suivi/{filed.tracking_token}")
    check(phone, problems, "tracking")
    case = answered_complaint()
    phone.goto(f"{server}/suivi/{case.tracking_token}")
    assert phone.get_by_role("button", name="Contester la réponse").is_visible()
    check(phone, problems, "tracking with contest")
    phone.goto(f"{server}/suivi")
    check(phone, problems, "lost link")
    assert problems == {}


def test_staff_pages_on_a_phone(app, server, phone):
    case = answered_complaint()
    problems = {}
    phone.goto(f"{server}/login")
    check(phone, problems, "login")
    phone.get_by_label("Identifiant").fill("gestionnaire")
    phone.get_by_label("Mot de passe").fill("demo")
    phone.get_by_role("button", name=re.compile("connecter", re.I)).click()
    phone.wait_for_url(re.compile(r"/taches/"))
    phone.goto(f"{server}/taches/?onglet=group")
    check(phone, problems, "task list")
    phone.get_by_role("link", name=case.reference).first.click()
    phone.wait_for_url(re.compile(r"/taches/[0-9a-f-]{36}"))
    check(phone, problems, "task page")
    # required_if: the blocked amount is asked only once the complainant is said to block a payment
    amount = phone.get_by_label("Montant bloqué (€)")
    assert not amount.is_visible()
    phone.get_by_label("Conteste la réponse").check()
    phone.get_by_label("Oui : ouvrir un litige").check()
    assert amount.is_visible() and amount.get_attribute("aria-required") == "true"
    assert "Ce choix ouvre un litige" in phone.locator("#payment_blocked-consequence").inner_text()
    phone.get_by_label("Non : réexaminer la réclamation").check()
    assert not amount.is_visible()
    # a failed submit: the error summary takes the focus
    phone.get_by_role("button", name="Terminer l'étape").click()
    phone.wait_for_selector(".error-summary")
    focused_on_summary(phone)
    check(phone, problems, "task page with errors")
    phone.goto(f"{server}/dossiers/{case.reference}")
    phone.wait_for_timeout(300)  # the diagram draws itself
    check(phone, problems, "case page")
    phone.goto(f"{server}/dossiers/")
    check(phone, problems, "case search")
    assert problems == {}
