"""In chromium, with the real forms (CSRF on): a handler declares an absence with a delegate, the admin sees it
on the people page and deactivates an account; screenshots in the test folder."""

from pathlib import Path

import pytest

from app.extensions import db
from app.models import TaskRow
from app.services.people.users import by_username, create_user
from tests.support.flows import complaint_data, start
from tests.support.live import CHROMIUM, launch, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def live(app, api, deployed, backend):
    with serve(app, backend) as server:
        yield server


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill("demo")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_absence_then_deactivation_in_the_browser(app, api, live, tmp_path):
    create_user("gestionnaire2", "demo", ["gestionnaire"], full_name="Paul Remplaçant")
    ref = start(api, **complaint_data())["reference"]
    task = api.get("admin", f"/api/cases/{ref}").get_json()["tasks"][0]
    assert api.post("gestionnaire", f"/api/tasks/{task['id']}/claim").status_code == 200
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(locale="fr-FR").new_page()
            page.set_default_timeout(15000)
            sign_in(page, live.url, "gestionnaire")
            page.get_by_role("link", name="Absence").click()
            page.get_by_label("Qui reprend vos tâches en cours ?").select_option("gestionnaire2")
            page.get_by_role("button", name="Me déclarer absent").click()
            page.get_by_text("1 tâche(s) confiée(s) à votre remplaçant").wait_for()
            page.screenshot(path=str(tmp_path / "absence.png"), full_page=True)
            page.get_by_role("button", name="Se déconnecter").click()

            sign_in(page, live.url, "admin")
            page.get_by_role("link", name="Personnes").click()
            row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="gestionnaire", exact=True))
            assert "remplacé par gestionnaire2" in row.inner_text()
            page.screenshot(path=str(tmp_path / "people.png"), full_page=True)
            page.get_by_role("button", name="Désactiver gestionnaire2").click()
            page.get_by_text("Compte gestionnaire2 désactivé ; 1 tâche(s) rendue(s) à leur groupe.").wait_for()
        finally:
            browser.close()
    db.session.expire_all()
    assert not by_username("gestionnaire2").active
    assert db.session.get(TaskRow, task["id"]).assignee is None
