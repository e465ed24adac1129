"""Case pages: search, case page (data, tasks, timeline, diagram), comments, roles."""

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AuditEvent, Comment
from app.services.cases import lifecycle as cases
from tests.support.pages import login, ready_task, start_case, text, user


@pytest.fixture
def three(deployed):
    a = start_case(customer_name="Martine Lefèvre", channel="letter", description="Facture payée deux fois.")
    clock.advance(days=3)
    b = start_case(customer_name="Boulangerie 100% Durand", channel="email", origin="supplier",
                   customer_email="contact@durand.example", invoice_refs="FA-77", description="Four défectueux.")
    clock.advance(days=3)
    c = start_case(customer_name="Jean Moreau", channel="phone", invoice_refs="FA-88", description="Accueil.")
    return a, b, c


def refs(resp) -> list[str]:
    html = resp.get_data(as_text=True).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    import re

    return re.findall(r'href="/dossiers/([A-Z]{3}-\d{4}-\d{6})"', html)


@pytest.mark.parametrize("query, expected", [
    ("", [2, 1, 0]), ("q=lef", [0]), ("q=REC-2026-000002", [1]), ("q=durand.example", [1]), ("q=FA-88", [2]),
    ("q=100%25", [1]), ("q=1%25", []), ("channel=phone", [2]), ("origin=supplier", [1]),
    ("received_from=2026-11-25", [2, 1]), ("received_to=2026-11-25", [0]),
    ("received_from=2026-11-26&received_to=2026-11-26", [1]), ("process_key=litige", []),
    ("status=open", [2, 1, 0]), ("open_only=y", [2, 1, 0]),
])
def test_search_filters(app, three, query, expected):
    resp = login(app, "gestionnaire").get(f"/dossiers/?{query}")
    assert resp.status_code == 200
    assert refs(resp) == [three[i].reference for i in expected]
    assert f"{len(expected)} dossier(s)" in text(resp)


def test_search_bad_dates(app, three):
    g = login(app, "gestionnaire")
    resp = g.get("/dossiers/?received_from=2026-12-01&received_to=2026-11-01")
    assert "La date de fin précède la date de début." in text(resp) and refs(resp) == []
    resp = g.get("/dossiers/?received_from=demain")
    assert resp.status_code == 200 and refs(resp) == [] and "date" in text(resp).lower()


def test_search_paginates(app, deployed):
    from app.cases import routes

    made = [start_case(customer_name=f"Client {i}", description=f"Objet {i}") for i in range(routes.PER_PAGE + 2)]
    g = login(app, "gestionnaire")
    assert len(refs(g.get("/dossiers/"))) == routes.PER_PAGE
    second = g.get("/dossiers/?page=2&q=Client")
    assert sorted(refs(second)) == sorted(c.reference for c in made[:2])


def test_case_page(app, three):
    case = three[0]
    task = ready_task(case)
    cases.complete_task(user("gestionnaire"), task.id, {"admissible": "yes", "category": "billing",
                                                        "severity": "high", "department": "billing"})
    resp = login(app, "auditeur").get(f"/dossiers/{case.reference}")
    assert resp.status_code == 200
    page = text(resp)
    assert "Nom du réclamant Martine Lefèvre" in page  # data labelled with the form labels
    assert "Catégorie Facturation" in page and "Gravité Élevée" in page  # option names, not ids
    assert "Analyser la réclamation Services concernés non attribuée" in page  # current task, group, holder
    assert "Étape terminée — Qualifier la réclamation par gestionnaire" in page
    assert "Message au réclamant" in page
    assert "Ajouter le commentaire" not in page and "Joindre" not in page  # auditors read only


def test_diagram_json(app, three):
    case = three[0]
    cases.complete_task(user("gestionnaire"), ready_task(case).id,
                        {"admissible": "yes", "category": "billing", "severity": "high"})
    data = login(app, "gestionnaire").get(f"/dossiers/{case.reference}/diagramme.json").get_json()
    assert data["xml"].startswith("<?xml") and 'id="reclamation"' in data["xml"]
    assert data["current"] == ["ut_analyse"]
    assert "ut_qualify" in data["completed"] and "ut_analyse" not in data["completed"]
    assert data["completed"][0].startswith("start") or "start" in data["completed"][0].lower()
    assert (data["process"], data["version"]) == ("reclamation", 1)


def test_unknown_case_is_404(app, deployed):
    resp = login(app, "gestionnaire").get("/dossiers/REC-1999-000001")
    assert resp.status_code == 404 and "Dossier inconnu." in text(resp)


def test_comments(app, three):
    ref = three[1].reference
    g = login(app, "gestionnaire")
    resp = g.post(f"/dossiers/{ref}/commentaires", data={"text": "Appeler le client <b>demain</b>."},
                  follow_redirects=True)
    assert "Commentaire ajouté." in text(resp)
    html = resp.get_data(as_text=True)
    assert "Appeler le client &lt;b&gt;demain&lt;/b&gt;." in html  # escaped, never raw HTML
    comment = db.session.scalars(select(Comment)).one()
    assert (comment.author, comment.case_id) == ("gestionnaire", three[1].id)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "comment_added")).one()
    assert event.data["text"] == "Appeler le client <b>demain</b>." and event.case_id == three[1].id
    resp = g.post(f"/dossiers/{ref}/commentaires", data={"text": "   "}, follow_redirects=True)
    assert "Le commentaire est vide." in text(resp)
    assert login(app, "auditeur").post(f"/dossiers/{ref}/commentaires", data={"text": "x"}).status_code == 403
    assert db.session.scalar(select(db.func.count()).select_from(Comment)) == 1


def test_pages_need_login(client, three):
    for url in ["/dossiers/", f"/dossiers/{three[0].reference}", "/dossiers/nouveau"]:
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.location
