"""Fewer clicks, no lost work: landing tab, « Prendre et ouvrir », « Tâche suivante », reception's menu,
duplicates, expired forms, the task page's attachments and history."""

import re

import pytest

from app.extensions import db
from app.models import TaskRow
from tests.support.pages import login, ready_task, start_case, text, user

pytestmark = pytest.mark.usefixtures("rollup_checked")
QUALIFY = {"action": "complete", "admissible": "yes", "category": "billing", "severity": "high",
           "department": "billing"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_staff_land_on_the_tab_that_holds_their_work_and_come_back_to_it(app, deployed):
    start_case()
    g = login(app, "gestionnaire")
    page = g.get("/taches/").get_data(as_text=True)
    assert 'aria-current="page"' in page
    assert re.search(r'aria-current="page"[^>]*>\s*Mon équipe', page) or "Mon équipe" in page
    assert "Qualifier la réclamation" in text(g.get("/taches/"))  # the group's work, not an empty « Mes tâches »
    g.get("/taches/?onglet=mine")
    assert "Aucune tâche dans cette vue" in text(g.get("/taches/"))  # the tab chosen last is kept


def test_take_and_open_in_one_click_then_next_task_of_the_same_tab(app, deployed):
    first, second = start_case(), start_case(customer_name="Paul Girard", customer_email="paul@example.fr")
    g = login(app, "gestionnaire")
    g.get("/taches/?onglet=group")
    task = ready_task(first, "ut_qualify")
    resp = g.post(f"/taches/{task.id}/prendre", data={"open": "1", "next": "/taches/?onglet=group"})
    assert resp.status_code == 302 and resp.location.endswith(f"/taches/{task.id}")
    assert db.session.get(TaskRow, task.id).assignee == "gestionnaire"
    resp = g.post(f"/taches/{task.id}", data=QUALIFY)
    assert resp.status_code == 302 and resp.location.endswith("/taches/?onglet=group")
    page = g.get(resp.location).get_data(as_text=True)
    following = ready_task(second, "ut_qualify")
    assert f'href="/taches/{following.id}" id="next-task"' in page and "Tâche suivante" in page


def test_reception_has_new_case_in_its_menu_and_goes_straight_to_the_form(app, deployed):
    a = login(app, "accueil")
    assert 'href="/dossiers/nouveau"' in a.get("/taches/").get_data(as_text=True)
    resp = a.get("/dossiers/nouveau")
    assert resp.status_code == 302 and resp.location.endswith("/dossiers/nouveau/reclamation")
    assert "Nouveau dossier — Réclamation" in text(a.get(resp.location))


def test_duplicate_warning_offers_the_existing_case_first(app, deployed):
    case = start_case()
    data = {"channel": "letter", "origin": "external_customer", "kind": "complaint",
            "customer_name": "Martine Lefèvre", "customer_email": "martine@example.fr",
            "description": "Frais de livraison facturés deux fois.", "invoice_refs": "FA-2026-1182"}
    html = login(app, "accueil").post("/dossiers/nouveau/reclamation", data=data).get_data(as_text=True)
    assert f'<a class="button primary" href="/dossiers/{case.reference}">Ouvrir le dossier existant</a>' in html
    assert 'class="secondary">Ouvrir quand même un nouveau dossier' in html


def test_expired_form_gives_the_page_back_with_what_was_typed(app, deployed):
    task = ready_task(start_case(), "ut_qualify")
    g = login(app, "gestionnaire")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = g.post(f"/taches/{task.id}", data={**QUALIFY, "qualification_comment": "Mon analyse détaillée",
                                                   "csrf_token": "expired-token"})
        assert resp.status_code == 400
        page = resp.get_data(as_text=True)
        assert "Le formulaire a expiré" in page and "Mon analyse détaillée" in page
        assert "Qualifier la réclamation" in page  # the task page itself, not an error page
        db.session.expire_all()
        assert db.session.get(TaskRow, task.id).state == "ready"
        resp = login(app, "accueil").post("/dossiers/nouveau/reclamation",
                                          data={"customer_name": "Nadia Roux", "csrf_token": "old"})
        assert resp.status_code == 400 and "Nadia Roux" in resp.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert app.config["WTF_CSRF_TIME_LIMIT"] >= 8 * 3600  # a working day


def test_task_page_links_attachments_with_preview_and_history_newest_first(app, deployed):
    from app.services.cases import notes

    case = start_case()
    attachment = notes.add_attachment(user("accueil"), case.reference, "courrier.pdf", PDF)
    task = ready_task(case, "ut_qualify")
    g = login(app, "gestionnaire")
    html = g.get(f"/taches/{task.id}").get_data(as_text=True)
    assert "Pièces du dossier" in html and "courrier.pdf" in html
    preview = f"/dossiers/{case.reference}/pieces/{attachment.id}?apercu=1"
    assert preview in html
    resp = g.get(preview)
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("inline")
    assert resp.mimetype == "application/pdf" and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.get_data() == PDF
    resp.close()
    download = g.get(f"/dossiers/{case.reference}/pieces/{attachment.id}")
    assert download.headers["Content-Disposition"].startswith("attachment") and download.get_data() == PDF
    download.close()
    history = html[html.index('id="tl-title"'):]
    times = re.findall(r'<time datetime="([^"]+)"', history)
    assert len(times) >= 2 and times == sorted(times, reverse=True)  # newest first
    assert '<details class="history" open>' in html
