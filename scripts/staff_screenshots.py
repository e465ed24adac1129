"""Screenshots from the demo data: docs/screenshots/task-list.png, task-page.png, qualify-confirm.png (a decision
that closes the case, previewed inline before it is confirmed), dispute-escalate.png (the dispute linked to its complaint,
« Escalader »), tracking-thread.png (one tracking page: the dispute's letters, « Contester la réponse ») and
task-phone.png (the task page at 390 px).

    PYTHONPATH=. .venv/bin/python scripts/staff_screenshots.py

Builds a throw-away SQLite database with the demo users and cases, serves the app on a free loopback
port, signs in as the handler (gestionnaire) in Debian's chromium and saves the two pages.
"""

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from app import clock, create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from tests.support.live import LiveServer, launch  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def prepare(app) -> str:
    """Demo users and cases; some tasks claimed, one draft, one overdue; return a task id to show."""
    from sqlalchemy import select

    from app.models import TaskRow, User
    from app.services.tasks import actions as tasks
    from app.services.core.definitions import deploy_files
    from app.cli.demo_data import load_demo

    with app.app_context():
        db.create_all()
        deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "demo")
        clock.set_now(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
        load_demo(6)
        clock.set_now(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
        load_demo(6)
        clock.set_now(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        handler = db.session.scalars(select(User).where(User.username == "gestionnaire")).one()
        rows = db.session.scalars(select(TaskRow).where(TaskRow.state == "ready", TaskRow.lane == "gestionnaire")
                                  .order_by(TaskRow.case_reference)).all()
        for row in rows[:2]:
            tasks.claim(handler, row.id)
        tasks.save_draft(handler, rows[0].id, {"category": "billing", "qualification_comment":
                                               "Vérifier la facture FA-2026-1180 avec la comptabilité."})
        return rows[0].id


def more_screenshots(app, browser, page, url: str) -> list[str]:
    """The pages of issue 16: confirmation of a decision, the complainant's thread, a phone."""
    from sqlalchemy import select

    from app.models import Case, TaskRow

    with app.app_context():
        qualify = db.session.scalars(select(TaskRow).where(TaskRow.state == "ready", TaskRow.bpmn_id == "ut_qualify",
                                                           TaskRow.assignee.is_(None))).first()
        disputed = db.session.scalars(select(Case).where(Case.process_key == "reclamation")).all()
        complaint = next(c for c in disputed if (c.data or {}).get("dispute_reference"))
        dispute_ref, token, qualify_id = complaint.data["dispute_reference"], complaint.tracking_token, qualify.id
    page.goto(f"{url}/taches/{qualify_id}")
    page.get_by_label("Non recevable").check()
    page.get_by_label("Catégorie").select_option("other")
    page.get_by_label("Faible").check()
    page.get_by_label("Motif de non-recevabilité (repris dans la lettre de refus)").fill(
        "Le contrat concerné a été résilié en 2019 : il ne relève plus de notre service.")
    # the inline preview: the consequence beside the radios, the summary and « Je confirme » by the button
    page.wait_for_selector("#consequence-summary:not([hidden])")
    page.locator("form.bpmn-form").screenshot(path=str(OUT / "qualify-confirm.png"))
    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_label("Identifiant").fill("commercial")
    page.get_by_label("Mot de passe").fill("demo")
    page.get_by_role("button", name="Se connecter").click()
    page.goto(f"{url}/dossiers/{dispute_ref}")
    page.screenshot(path=str(OUT / "dispute-escalate.png"), full_page=True)
    public = browser.new_page(viewport={"width": 1000, "height": 900}, locale="fr-FR")
    public.goto(f"{url}/suivi/{token}")
    public.screenshot(path=str(OUT / "tracking-thread.png"), full_page=True)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR", is_mobile=True)
    phone.goto(f"{url}/login")
    phone.get_by_label("Identifiant").fill("gestionnaire")
    phone.get_by_label("Mot de passe").fill("demo")
    phone.get_by_role("button", name="Se connecter").click()
    phone.goto(f"{url}/taches/{qualify_id}")
    phone.screenshot(path=str(OUT / "task-phone.png"), full_page=False)
    return [str(OUT / n) for n in ("qualify-confirm.png", "dispute-escalate.png", "tracking-thread.png",
                                   "task-phone.png")]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.db", "SECRET_KEY": "screenshots",
                          "ATTACHMENT_DIR": f"{tmp}/attachments"})
        task_id = prepare(app)
        with LiveServer(app) as server, sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1366, "height": 860}, locale="fr-FR")
            page.goto(f"{server.url}/login")
            page.get_by_label("Identifiant").fill("gestionnaire")
            page.get_by_label("Mot de passe").fill("demo")
            page.get_by_role("button", name="Se connecter").click()
            page.goto(f"{server.url}/taches/?onglet=group")
            page.screenshot(path=str(OUT / "task-list.png"), full_page=True)
            page.goto(f"{server.url}/taches/{task_id}")
            page.screenshot(path=str(OUT / "task-page.png"), full_page=False)
            shots = more_screenshots(app, browser, page, server.url)
            browser.close()
        with app.app_context():
            db.engine.dispose()
    print(f"wrote {OUT / 'task-list.png'}, {OUT / 'task-page.png'} and {', '.join(shots)}")


if __name__ == "__main__":
    main()
