"""Templates as data: seeded from app/templates/messages, edited by process owners as versions, rendered in a
sandbox; a step letter keeps the version active when it was written and the audit trail names it."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, MessageTemplate, OutboxMessage
from app.services.core.errors import Conflict, Forbidden, Invalid
from app.services.messaging import messages, template_editing, templates
from app.services.people.users import by_username
from tests.support.flows import complaint_data, start


def login(client, username):
    resp = client.post("/login", data={"username": username, "password": "demo"})
    assert resp.status_code == 302


def rows(key):
    db.session.expire_all()
    return list(db.session.scalars(select(MessageTemplate).where(MessageTemplate.key == key)
                                   .order_by(MessageTemplate.version)))


def test_the_files_are_the_seed_created_once(deployed, runner):
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == 0
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "Modèles de messages créés" in result.output
    keys = {r.key for r in db.session.scalars(select(MessageTemplate))}
    assert keys == set(templates.seed_keys()) and {"response", "_signature", "_mediator"} <= keys
    response = templates.active("response")
    assert (response.version, response.kind, response.subject) == (
        1, "letter", "Réponse à votre {{ kind_label }} {{ reference }}")
    again = runner.invoke(args=["init-db"])
    assert "Modèles de messages créés" not in again.output
    assert db.session.scalar(select(func.count()).select_from(MessageTemplate)) == len(keys)


def test_first_use_seeds_a_missing_template(deployed, api):
    start(api, **complaint_data())
    [ack] = rows("acknowledgment")
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.template_version_id == ack.id and ack.created_by == "system"


@pytest.mark.parametrize(("body", "error"), [
    ("Bonjour {{ customer_name ,", "Erreur de syntaxe ligne 1"),
    ("{% if due %}sans fin", "Erreur de syntaxe"),
    ("Bonjour {{ client_nom }}", "Champ inconnu : « client_nom »"),
    ("{{ amount|monnaie }}", "Modèle invalide"),
    ('{% include "_absent" %}', "Modèle inclus inconnu"),
])
def test_a_broken_template_is_refused_in_french_and_nothing_saved(deployed, body, error):
    templates.seed_missing()
    owner = by_username("proprietaire")
    with pytest.raises(Invalid) as refused:
        template_editing.save(owner, "response", "Objet", body, base_version=1)
    assert error in refused.value.errors["body"]
    assert [r.version for r in rows("response")] == [1]


def test_only_process_owners_edit_and_a_stale_edit_is_refused(deployed):
    with pytest.raises(Forbidden):
        template_editing.save(by_username("gestionnaire"), "response", "Objet", "Texte", base_version=1)
    owner = by_username("proprietaire")
    template_editing.save(owner, "response", "Objet", "Texte 2", base_version=1)
    with pytest.raises(Conflict, match="modifié entre-temps"):
        template_editing.save(by_username("admin"), "response", "Objet", "Texte 3", base_version=1)
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "template_saved"))
    assert event.case_id is None and event.actor == "proprietaire" and event.data["version"] == 2


def test_sandbox_keeps_templates_away_from_python(deployed, api):
    ref = start(api, **complaint_data(customer_name="<b>Zoé</b> & fils"))["reference"]
    with pytest.raises(Invalid, match="interdite par le bac à sable"):
        messages.preview("Objet", "{{ data.__class__.__mro__[1].__subclasses__() }}", ref)
    rendered = messages.preview("Objet {{ reference }}", "Bonjour {{ customer_name }},\n\nMerci.", ref)
    assert rendered.subject == f"Objet {ref}"
    assert rendered.text.startswith("Bonjour <b>Zoé</b> & fils,")  # the text part is text
    assert "&lt;b&gt;Zoé&lt;/b&gt; &amp; fils" in rendered.html and "<b>" not in rendered.html  # autoescaped


def test_owner_edits_in_the_browser_next_letter_uses_it_earlier_keep_theirs(deployed, api, client):
    first = start(api, **complaint_data())["reference"]
    login(client, "proprietaire")
    page = client.get("/courriers/modeles/")
    assert page.status_code == 200 and "Accusé de réception" in page.get_data(as_text=True)
    form = {"subject": "Nous avons reçu votre {{ kind_label }} {{ reference }}",
            "body": "Madame, Monsieur {{ customer_name }},\n\nVotre dossier est enregistré le {{ received }}.\n"
                    '{% include "_signature" %}',
            "note": "Ton plus formel", "base_version": "1", "reference": first}
    preview = client.post("/courriers/modeles/acknowledgment", data={**form, "action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and f"Nous avons reçu votre réclamation {first}" in html
    assert "Votre dossier est enregistré le 23 novembre 2026." in html
    assert len(rows("acknowledgment")) == 1  # a preview saves nothing
    bad = client.post("/courriers/modeles/acknowledgment", data={**form, "body": "{{ oups", "action": "save"})
    assert bad.status_code == 422 and "Erreur de syntaxe" in bad.get_data(as_text=True)
    saved = client.post("/courriers/modeles/acknowledgment", data={**form, "action": "save"})
    assert saved.status_code == 302
    v1, v2 = rows("acknowledgment")
    assert (v2.version, v2.note, v2.created_by) == (2, "Ton plus formel", "proprietaire")

    second = start(api, **complaint_data(customer_email="paul@example.fr", customer_name="Paul Roux"))["reference"]
    old, new = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert old.template_version_id == v1.id and old.subject.startswith("Accusé de réception")
    assert new.template_version_id == v2.id and new.subject == f"Nous avons reçu votre réclamation {second}"
    assert new.body.startswith("Madame, Monsieur Paul Roux,")
    sent = {e.case_reference: e.data for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.type == "message_sent"))}
    assert sent[first]["template_version_id"] == v1.id and sent[second]["template_version_id"] == v2.id

    history = client.get("/courriers/modeles/acknowledgment/versions").get_data(as_text=True)
    assert "Version 2" in history and "Ton plus formel" in history
    back = client.post(f"/courriers/modeles/acknowledgment/versions/{v1.id}/retablir")
    assert back.status_code == 302
    v3 = rows("acknowledgment")[-1]
    assert (v3.version, v3.subject, v3.body, v3.note) == (3, v1.subject, v1.body, "Retour à la version 1")
    again = client.post(f"/courriers/modeles/acknowledgment/versions/{v3.id}/retablir", follow_redirects=True)
    assert "déjà la version active" in again.get_data(as_text=True) and len(rows("acknowledgment")) == 3


def test_editor_pages_are_for_process_owners(deployed, client):
    login(client, "gestionnaire")
    assert client.get("/courriers/modeles/").status_code == 403
    assert client.post("/courriers/modeles/response", data={"action": "save"}).status_code == 403
    client.post("/logout")
    login(client, "admin")
    assert client.get("/courriers/modeles/response").status_code == 200
    assert client.get("/courriers/modeles/inconnu").status_code == 404


@pytest.mark.parametrize("body", [
    '{{ "x" * 100000000 }}', "{{ 10 ** 100000 }}", "{% for i in range(1000000) %}.{% endfor %}",
    "{{ reference.__class__.__mro__ }}"])
def test_sandbox_budgets_refuse_runaway_templates(deployed, api, body):
    ref = start(api, **complaint_data())["reference"]
    with pytest.raises(Invalid, match="bac à sable"):
        messages.preview("Objet", body, ref)


def test_nested_loops_are_refused_at_save(deployed):
    templates.seed_missing()
    body = "{% for a in range(9) %}{% for b in range(9) %}{% for c in range(9) %}.{% endfor %}{% endfor %}{% endfor %}"
    with pytest.raises(Invalid) as refused:
        template_editing.save(by_username("proprietaire"), "response", "Objet", body, base_version=1)
    assert "Trop de boucles imbriquées" in refused.value.errors["body"]


def test_letter_template_preview_as_pdf(deployed, api, client):
    from tests.support.mail import pdf_text

    ref = start(api, **complaint_data(customer_address="3 rue des Lilas\n69003 Lyon"))["reference"]
    login(client, "proprietaire")
    resp = client.post("/courriers/modeles/holding_letter", data={
        "subject": "Votre dossier {{ reference }}", "body": "Bonjour {{ customer_name }}, réponse le {{ due }}.",
        "base_version": "1", "reference": ref, "action": "preview_pdf"})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = " ".join(pdf_text(resp.data).split())
    assert f"Objet : Votre dossier {ref}" in text and "Bonjour Martine Lefèvre, réponse le 8 décembre 2026." in text
    assert "69003 Lyon" in text and len(rows("holding_letter")) == 1  # nothing saved


def test_process_owner_creates_a_template_the_composer_offers(deployed, api, client):
    ref = start(api, **complaint_data())["reference"]
    login(client, "proprietaire")
    page = client.get("/courriers/modeles/").get_data(as_text=True)
    assert "Demande d&#39;informations complémentaires" in page and "Créer le modèle" in page
    assert 'Bonjour {{ customer_name }},\n\n\n{% include "_signature" %}</textarea>' in page.replace("&#34;", '"')
    bad = client.post("/courriers/modeles/", data={"key": "Réponse!", "label": "", "kind": "fax",
                                                   "subject": "", "body": ""})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Identifiant : 3 à 60 lettres minuscules" in html
    assert "Choisissez : courrier ou e-mail." in html and "L&#39;objet est obligatoire." in html
    taken = client.post("/courriers/modeles/", data={"key": "response", "label": "X", "kind": "letter",
                                                     "subject": "X", "body": "X"})
    assert taken.status_code == 422 and "Un modèle « response » existe déjà." in taken.get_data(as_text=True)
    broken = client.post("/courriers/modeles/", data={"key": "demande_pieces", "label": "Demande de pièces",
                                                      "kind": "letter", "subject": "Pièces", "body": "{{ oups"})
    assert broken.status_code == 422 and "Erreur de syntaxe" in broken.get_data(as_text=True)
    created = client.post("/courriers/modeles/", data={
        "key": "demande_pieces", "label": "Demande de pièces", "kind": "letter",
        "subject": "Pièces pour le dossier {{ reference }}", "body": "Bonjour {{ customer_name }},\n\nMerci."})
    assert created.status_code == 302 and created.headers["Location"].endswith("/courriers/modeles/demande_pieces")
    [row] = rows("demande_pieces")
    assert (row.version, row.kind, row.created_by) == (1, "letter", "proprietaire")
    login(client, "responsable")
    composer = client.get(f"/dossiers/{ref}/reponse?modele=demande_pieces&canal=email").get_data(as_text=True)
    assert "Demande de pièces (courrier)" in composer and f"Pièces pour le dossier {ref}" in composer
