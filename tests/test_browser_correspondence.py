"""End to end in chromium: a handler answers from the case page with the composer (template, inserted field,
preview, send); a process owner edits a template, previews it on a real case, saves a version, rolls back.

Screenshots go to $CORRESPONDENCE_SCREENSHOTS when set (docs/screenshots for the README), else to tmp_path."""

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, MessageTemplate, OutboxMessage
from app.services.cases import notes
from app.services.people.users import by_username
from tests.support.flows import complaint_data, start
from tests.support.live import CHROMIUM, browser_page, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")]
pytest.importorskip("playwright.sync_api")


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ["CORRESPONDENCE_SCREENSHOTS"]) if os.environ.get("CORRESPONDENCE_SCREENSHOTS") \
        else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def live(app, deployed, backend):
    with serve(app, backend) as server:
        yield server


@pytest.fixture
def page(live):
    with browser_page() as page:
        yield page


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill("demo")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/taches/"))


def test_composer_journey(api, live, page, shots):
    reference = start(api, **complaint_data(customer_address="3 rue des Lilas\n69003 Lyon"))["reference"]
    notes.add_attachment(by_username("gestionnaire"), reference, "releve.pdf", b"%PDF-1.4 releve")
    sign_in(page, live.url, "gestionnaire")
    page.goto(f"{live.url}/dossiers/{reference}")
    page.get_by_role("link", name="Rédiger une réponse").click()
    page.wait_for_url(re.compile(r"/reponse"))
    page.get_by_label("Partir d’un modèle").select_option("holding_letter")
    page.get_by_role("button", name="Charger le modèle").click()
    body = page.get_by_label("Texte", exact=True)
    assert "Bonjour Martine Lefèvre," in body.input_value()
    assert page.get_by_label("Objet").input_value() == f"Votre réclamation {reference} : réponse en cours"
    body.fill("Bonjour Martine Lefèvre,\n\nVotre facture FA-2026-1182 est en cours de vérification, dossier ")
    body.press("End")
    page.get_by_role("button", name=f"Insérer Référence du dossier : {reference}").click()
    assert body.input_value().endswith(f"dossier {reference}")
    page.get_by_label("releve.pdf").check()
    page.get_by_role("button", name="Aperçu", exact=True).click()
    preview = page.locator("#reply-preview")
    assert "Aperçu : ce qui sera envoyé" in preview.inner_text()
    assert f"est en cours de vérification, dossier {reference}" in preview.inner_text()
    assert "releve.pdf" in preview.inner_text() and "martine@example.fr" in preview.inner_text()
    page.screenshot(path=str(shots / "reply-composer.png"), full_page=True)
    page.get_by_role("button", name="Envoyer cette réponse").click()
    page.wait_for_url(re.compile(rf"/dossiers/{reference}#correspondance"))
    assert "Réponse envoyée par e-mail" in page.content()
    assert page.locator("li", has_text="Réponse au réclamant").count() >= 1
    db.session.expire_all()
    [reply] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "reply"))
    assert reply.body.endswith(f"dossier {reference}\n") and reply.attachment_ids
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.type == "reply_sent")).one().actor == "gestionnaire"


def test_template_editor_journey(api, live, page, shots):
    reference = start(api, **complaint_data())["reference"]
    [earlier] = db.session.scalars(select(OutboxMessage))
    sign_in(page, live.url, "proprietaire")
    page.get_by_role("link", name="Modèles").click()
    page.get_by_role("link", name="Modifier le modèle Accusé de réception").click()
    body = page.get_by_label("Texte")
    body.fill("Madame, Monsieur {{ customer_name }},\n\nNous avons bien reçu votre {{ kind_label }} le "
              "{{ received }}.\n{% include \"_signature\" %}")
    page.get_by_label("Motif de la modification (facultatif)").fill("Formule plus courtoise")
    page.get_by_label("Dossier pour l’aperçu").fill(reference)
    page.get_by_role("button", name="Aperçu avec ce dossier").click()
    preview = page.locator("#apercu")
    assert "Madame, Monsieur Martine Lefèvre," in preview.inner_text()
    assert "Nous avons bien reçu votre réclamation le 23 novembre 2026." in preview.inner_text()
    page.screenshot(path=str(shots / "template-editor.png"), full_page=True)
    body.fill("Bonjour {{ client }")
    page.get_by_role("button", name="Enregistrer une nouvelle version").click()
    assert "Erreur de syntaxe ligne 1" in page.locator(".error-summary").inner_text()
    body.fill("Madame, Monsieur {{ customer_name }},\n\nNous avons bien reçu votre {{ kind_label }}.\n"
              "{% include \"_signature\" %}")
    page.get_by_role("button", name="Enregistrer une nouvelle version").click()
    assert "version 2, utilisée par les prochains messages" in page.content()
    page.get_by_role("link", name="Historique des versions").click()
    assert page.get_by_role("heading", name="Version 2 active").is_visible()
    page.screenshot(path=str(shots / "template-history.png"), full_page=True)
    page.get_by_role("button", name="Revenir à la version 1").click()
    assert "Version 3 créée" in page.content()
    db.session.expire_all()
    versions = list(db.session.scalars(select(MessageTemplate).where(MessageTemplate.key == "acknowledgment")
                                       .order_by(MessageTemplate.version)))
    assert [v.version for v in versions] == [1, 2, 3] and versions[2].body == versions[0].body
    # While version 2 was active a letter was written from it; the earlier one keeps version 1's text.
    assert earlier.template_version_id == versions[0].id and earlier.body.startswith("Bonjour Martine Lefèvre,")


def test_letter_written_while_an_edit_is_active_keeps_it(api, live, page):
    start(api, **complaint_data())
    sign_in(page, live.url, "proprietaire")
    page.goto(f"{live.url}/courriers/modeles/acknowledgment")
    page.get_by_label("Texte").fill("Madame, Monsieur {{ customer_name }},\n\nBien reçu.\n")
    page.get_by_role("button", name="Enregistrer une nouvelle version").click()
    assert "version 2, utilisée par les prochains messages" in page.content()
    second = start(api, **complaint_data(customer_name="Paul Roux", customer_email="paul@example.fr"))["reference"]
    db.session.expire_all()
    first_letter, second_letter = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    v1, v2 = db.session.scalars(select(MessageTemplate).where(MessageTemplate.key == "acknowledgment")
                                .order_by(MessageTemplate.version))
    assert first_letter.template_version_id == v1.id and first_letter.body.startswith("Bonjour Martine Lefèvre,")
    assert second_letter.template_version_id == v2.id
    assert second_letter.body == "Madame, Monsieur Paul Roux,\n\nBien reçu.\n"
    assert second in second_letter.subject
