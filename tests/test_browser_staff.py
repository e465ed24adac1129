"""End to end in chromium: accueil registers a phone complaint, the handler qualifies it, the department
analyses it; the case page shows the diagram with the path taken; the complainant follows it (public page)."""

import re
from pathlib import Path

import pytest

from tests.support.auth import browser_sign_in
from tests.support.axe import violations
from tests.support.live import CHROMIUM, browser_page, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
pytest.importorskip("playwright.sync_api")


@pytest.fixture
def live(app, deployed, backend):
    with serve(app, backend) as server:
        yield server


@pytest.fixture
def page(live):
    with browser_page(bypass_csp=True) as page:  # bypass_csp only lets the test inject axe-core
        yield page


def sign_out(page):
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(re.compile(r"/login"))


def test_phone_complaint_through_three_groups(app, live, page):
    base = live.url
    # 1. Front office registers a phone complaint.
    browser_sign_in(page, base, "accueil")
    # « Nouveau dossier » is in reception's menu; with one process it opens the form at once
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Nouveau dossier").click()
    assert violations(page) == []  # the start form
    page.get_by_label("Canal de réception").select_option("phone")
    page.get_by_label("Orale").check()  # asked for the phone and the counter only
    page.get_by_label("Réclamation", exact=True).check()  # the kind decides the path: no default
    page.get_by_label("Nom du réclamant").fill("Lucie Fontaine")
    page.get_by_label("Téléphone du réclamant").fill("06 11 22 33 44")
    page.get_by_label("Description de la réclamation").fill("Compteur relevé deux fois ce mois-ci.")
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_url(re.compile(r"/dossiers/REC-"))
    reference = re.search(r"REC-\d{4}-\d{6}", page.url).group(0)
    assert "Dossier " + reference + " enregistré." in page.content()
    sign_out(page)

    # 2. The handler claims the qualification from the team tab and completes it. A case at analysis since
    # yesterday, due in two days while similar cases took six more, is flagged at risk; the filter keeps it alone.
    risky = _case_at_risk()
    browser_sign_in(page, base, "gestionnaire")
    page.get_by_role("link", name=re.compile("Mon équipe")).click()
    flag = page.locator("tr", has_text=risky.reference).locator(".risk-flag")
    assert flag.inner_text().startswith("Risque de retard")
    assert flag.get_attribute("title") == "Clôture estimée le 28/11/2026, après l'échéance du 25/11/2026"
    assert page.locator("tr", has_text=reference).locator(".risk-flag").count() == 0
    page.get_by_label("À risque").check()
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url(re.compile(r"risque=1"))  # the filtered page loaded (count() does not wait)
    page.wait_for_load_state()
    rows = page.locator("table.tasks tbody tr")
    assert rows.count() == 1 and risky.reference in rows.first.inner_text()
    page.get_by_role("link", name="Effacer").click()
    assert violations(page) == []  # the task list
    row = page.locator("tr", has_text=reference)
    row.get_by_role("button", name="Prendre et ouvrir").click()  # one click to the form
    page.wait_for_url(re.compile(r"/taches/[0-9a-f-]{36}$"))
    assert violations(page) == []  # the task page
    assert "prise." in page.content()
    page.get_by_label("Recevable", exact=True).check()
    page.get_by_label("Catégorie").select_option("billing")
    page.get_by_label("Élevée").check()
    page.get_by_label("Service concerné").select_option("billing")
    page.get_by_role("button", name="Terminer l'étape").click()
    page.wait_for_url(re.compile(r"/taches/\?onglet=group$"))  # back to the tab the work came from
    assert f"terminée pour le dossier {reference}" in page.content()
    sign_out(page)

    # 3. The department analyses it; the keyboard is enough to fill the form.
    browser_sign_in(page, base, "service")
    page.get_by_role("link", name=re.compile("Mon équipe")).click()
    page.locator("tr", has_text=reference).get_by_role("link", name="Ouvrir").click()
    page.get_by_label("Faits constatés").focus()
    page.keyboard.type("Double relevé confirmé par le technicien.")
    page.get_by_label("Cause racine").fill("Erreur de saisie lors de la tournée.")
    page.get_by_label("Non", exact=True).check()  # no systemic cause: an explicit choice
    page.get_by_label("Non : passer à la décision").check()
    page.get_by_role("button", name="Terminer l'étape").click()
    page.wait_for_url(re.compile(r"/taches/\?onglet="))

    # 4. The case page shows the next step and highlights the diagram.
    page.goto(f"{base}/dossiers/{reference}")
    assert "Décider et répondre" in page.locator("#tasks-title + table").inner_text()
    page.wait_for_selector("#diagram .djs-element.hl-current")
    current = page.eval_on_selector_all("#diagram .hl-current", "els => els.map(e => e.dataset.elementId)")
    assert current == ["ut_decide"]
    done = page.eval_on_selector_all("#diagram .hl-done", "els => els.map(e => e.dataset.elementId)")
    assert {"ut_qualify", "ut_analyse"} <= set(done)
    assert violations(page) == []  # the case page, diagram drawn
    timeline = page.locator("#tl-title + .timeline").inner_text()
    assert "Analyser la réclamation" in timeline and "Qualifier la réclamation" in timeline

    # 5. The complainant follows it on the public tracking page (once that page exists).
    if any(rule.rule.startswith("/suivi/") for rule in app.url_map.iter_rules()):
        from app.services.cases.lifecycle import get_case

        sign_out(page)
        page.goto(f"{base}/suivi/{get_case(reference).tracking_token}")
        assert reference in page.content()


def _case_at_risk():
    """Five closed complaints (six days from analysis to closure) and an open one due before that would end."""
    from app.extensions import db
    from tests.support.indicator_data import Builder, at, closed_history

    b = Builder()  # after the journey's case: references follow it
    closed_history(b)
    case = b.case(at(11, 21), kind="complaint", category="billing", due_at=at(11, 25), status="in_progress",
                  tasks=[("ut_analyse", at(11, 22), None)])
    db.session.commit()
    return case
