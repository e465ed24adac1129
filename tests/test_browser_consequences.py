"""In chromium: a choice with consequences says what it will do beside the radios and beside « Terminer l'étape »,
and the step ends only once « Je confirme » is ticked; axe-core finds no serious or critical violation."""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMessage, TaskRow
from app.services.cases import lifecycle as cases
from tests.support.auth import browser_sign_in
from tests.support.axe import AXE, violations
from tests.support.live import CHROMIUM, browser_page, serve
from tests.support.pages import ready_task, start_case

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
pytest.importorskip("playwright.sync_api")
REFUSAL = "Ce choix clôt le dossier et envoie la lettre de refus"


@pytest.fixture
def live(app, deployed, backend):
    assert AXE.exists(), "axe-core missing: run `make install`"
    with serve(app, backend) as server:
        yield server


@pytest.fixture
def page(live):
    # bypass_csp only lets the test inject axe-core (tests/support/axe.py); forms.js is a static file
    with browser_page({"width": 1280, "height": 900}, bypass_csp=True) as page:
        yield page


def test_refusal_is_previewed_inline_and_needs_the_tick_box(app, live, page):
    task = ready_task(start_case(), "ut_qualify")
    browser_sign_in(page, live.url, "gestionnaire")
    page.goto(f"{live.url}/taches/{task.id}")
    live_region = page.locator("#admissible-consequence")
    summary = page.locator("#consequence-summary")
    button = page.locator("#complete-step")
    assert live_region.get_attribute("aria-live") == "polite"
    assert not live_region.is_visible() and not summary.is_visible()
    assert button.inner_text() == "Terminer l'étape"
    assert not page.get_by_text(REFUSAL).first.is_visible()  # each option's note gives way to the preview

    page.get_by_label("Non recevable", exact=True).check()
    assert REFUSAL in live_region.inner_text() and live_region.is_visible()
    assert summary.is_visible() and REFUSAL in page.locator("#consequence-summary-list").inner_text()
    assert button.inner_text() == "Confirmer et terminer l'étape"
    assert button.get_attribute("aria-describedby") == "consequence-summary-list"
    assert violations(page) == []

    page.get_by_label("Recevable", exact=True).check()  # no consequence: the preview goes away
    assert not live_region.is_visible() and not summary.is_visible()
    assert button.inner_text() == "Terminer l'étape"

    page.get_by_label("Non recevable", exact=True).check()
    page.locator("[name=category]").select_option("billing")
    page.locator("input[name=severity][value=high]").check()
    page.locator("[name=department]").select_option("billing")
    page.locator("[name=qualification_comment]").fill("Contrat résilié.")
    page.locator("[name=rejection_reason]").fill("Contrat résilié en 2019.")
    button.click()  # not ticked: nothing is sent, the tick box says why and takes the focus
    error = page.locator("#confirm-consequences-error")
    error.wait_for(state="visible")
    assert page.evaluate("() => document.activeElement.id") == "confirm-consequences"
    assert page.locator("#confirm-consequences").get_attribute("aria-invalid") == "true"
    assert violations(page) == []
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).state == "ready"

    page.get_by_label("Je confirme ce qui va se passer").check()
    assert not error.is_visible()
    button.click()
    page.wait_for_url(re.compile(r"/taches/(\?.*)?$"))
    db.session.expire_all()
    case = cases.get_case(task.case_reference)
    assert case.status == "closed"
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id,
                                                          OutboxMessage.template == "rejection")).one()


def test_changing_the_choice_withdraws_the_confirmation(app, live, page):
    """A tick given for one consequence does not carry over to another: the box is unticked again. Here a
    conditional field's consequence (shown only when the complainant contests) joins the preview too."""
    from tests.support.thread import answered_complaint

    task = ready_task(answered_complaint(), "ut_reaction")
    browser_sign_in(page, live.url, "gestionnaire")
    page.goto(f"{live.url}/taches/{task.id}")
    box = page.locator("#confirm-consequences")
    page.get_by_label("Satisfait (ou sans contestation)").check()
    assert "mène à la clôture du dossier" in page.locator("#reaction-consequence").inner_text()
    page.get_by_label("Je confirme ce qui va se passer").check()
    assert box.get_attribute("value") == "reaction=satisfied"
    page.get_by_label("Conteste la réponse").check()
    assert not page.locator("#consequence-summary").is_visible() and not box.is_checked()
    page.get_by_label("Oui : ouvrir un litige").check()
    assert "ouvre un litige" in page.locator("#payment_blocked-consequence").inner_text()
    assert box.get_attribute("value") == "payment_blocked=yes" and not box.is_checked()
    assert "ouvre un litige" in page.locator("#consequence-summary-list").inner_text()
    assert violations(page) == []
