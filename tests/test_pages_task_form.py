"""Task page: the BPMN form built with WTForms, server validation shared with the API, drafts, conflicts."""

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.forms.builder import apply_errors, build_form
from app.forms.fields import FieldSpec
from app.models import AuditEvent, TaskRow
from app.services.cases import lifecycle as cases
from tests.support.pages import login, ready_task, start_case, text, user

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

QUALIFY = {"action": "complete", "admissible": "yes", "category": "billing", "severity": "high",
           "department": "billing", "qualification_comment": "Double facturation confirmée."}


@pytest.fixture
def task(deployed):
    return ready_task(start_case(), "ut_qualify")


def test_task_page_shows_case_timeline_and_form(app, task):
    resp = login(app, "gestionnaire").get(f"/taches/{task.id}")
    assert resp.status_code == 200
    page, html = text(resp), resp.get_data(as_text=True)
    assert "Qualifier la réclamation" in page and task.case_reference in page
    assert "Martine Lefèvre" in page and "Frais de livraison facturés deux fois." in page  # case summary
    assert "Dossier enregistré" in page and "Message au réclamant" in page  # timeline with the acknowledgment
    assert re.search(r'<pre class="letter">[^<]*' + task.case_reference, html)  # the letter's text
    # one input per BPMN field: radios (the decision, nothing preselected), select (> 4 options), textarea
    assert html.count('name="admissible" required type="radio"') == 2
    assert not re.search(r'checked id="admissible-\d"', html)
    assert "Ce choix clôt le dossier et envoie la lettre de refus" in page  # beside « Non recevable »
    assert 'data-required-if="admissible=no"' in html  # the rejection reason, shown for « Non recevable »
    assert '<select aria-required="true" id="category" name="category" required>' in html
    assert html.count('name="severity" required type="radio"') == 4
    assert 'checked id="severity-1" name="severity" required type="radio" value="medium"' in html  # BPMN default
    assert '<textarea id="qualification_comment" maxlength="5000"' in html
    assert "Enregistrer le brouillon" in page


def test_complete_through_the_page(app, task):
    g = login(app, "gestionnaire")
    resp = g.post(f"/taches/{task.id}", data=QUALIFY)
    assert resp.status_code == 302 and "/taches/?onglet=" in resp.location  # back to the person's tab
    db.session.expire_all()
    row = db.session.get(TaskRow, task.id)
    assert (row.state, row.completed_by) == ("completed", "gestionnaire")
    case = cases.get_case(task.case_reference)
    assert case.data["admissible"] == "yes" and case.data["severity"] == "high"
    nxt = ready_task(case)
    assert (nxt.bpmn_id, nxt.lane) == ("ut_analyse", "service")
    # the completed task's page says who finished it and has no form any more
    page = text(g.get(f"/taches/{task.id}"))
    assert "terminée par gestionnaire" in page and "Terminer l'étape" not in page


def test_a_decision_left_unchosen_is_refused_not_taken(app, task):
    data = {k: v for k, v in QUALIFY.items() if k != "admissible"}
    resp = login(app, "gestionnaire").post(f"/taches/{task.id}", data=data)
    assert resp.status_code == 422
    assert '<p class="error" id="admissible-error">Ce champ est obligatoire.</p>' in resp.get_data(as_text=True)
    assert 'class="flash flash-error error-summary"' in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).state == "ready"
    assert "admissible" not in cases.get_case(task.case_reference).data


def test_rejection_needs_a_reason_then_a_confirmation(app, task):
    from app.models import OutboxMessage

    g = login(app, "gestionnaire")
    rejected = {**QUALIFY, "admissible": "no"}
    resp = g.post(f"/taches/{task.id}", data=rejected)  # required_if: the reason goes into the letter
    assert resp.status_code == 422
    assert ("Ce champ est obligatoire quand « Recevabilité » vaut « Non recevable »."
            in text(resp))
    resp = g.post(f"/taches/{task.id}", data={**rejected, "rejection_reason": "Contrat résilié en 2019."})
    assert resp.status_code == 200  # not done yet: what will happen is shown first
    page = text(resp)
    assert "Avant de terminer l'étape" in page and "Ce choix clôt le dossier et envoie la lettre de refus" in page
    assert "Contrat résilié en 2019." in resp.get_data(as_text=True)  # what was typed is kept
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).state == "ready"
    resp = g.post(f"/taches/{task.id}", data={**rejected, "rejection_reason": "Contrat résilié en 2019.",
                                               "confirmed": "admissible=no"})
    assert resp.status_code == 302
    case = cases.get_case(task.case_reference)
    assert case.status == "closed"
    letter = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id,
                                                            OutboxMessage.template == "rejection")).one()
    assert "Contrat résilié en 2019." in letter.body


@pytest.mark.parametrize("field, value, message", [
    ("category", "", "Ce champ est obligatoire."),
    ("category", "weather", "Choix invalide."),
    ("severity", "apocalyptic", "Choix invalide."),
    ("qualification_comment", "x" * 5001, "5000 caractères au maximum."),
])
def test_invalid_input_keeps_values_and_shows_error_beside_field(app, task, field, value, message):
    data = {**QUALIFY, field: value, "qualification_comment": QUALIFY["qualification_comment"]}
    data[field] = value
    resp = login(app, "gestionnaire").post(f"/taches/{task.id}", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'<p class="error" id="{field}-error">{message}</p>' in html
    assert f'aria-describedby="{field}-error"' in html
    if field != "qualification_comment":
        assert "Double facturation confirmée." in html  # what was typed is still there
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).state == "ready"


def test_posted_keys_that_are_not_form_fields_are_ignored(app, task):
    resp = login(app, "gestionnaire").post(f"/taches/{task.id}", data={**QUALIFY, "status": "closed"})
    assert resp.status_code == 302
    case = cases.get_case(task.case_reference)
    assert case.status != "closed" and case.data.get("status") != "closed"


def test_a_checkbox_value_is_no_longer_a_decision(app, task):
    resp = login(app, "gestionnaire").post(f"/taches/{task.id}", data={**QUALIFY, "admissible": "false"})
    assert resp.status_code == 422 and "Choix invalide." in text(resp)


def test_task_completed_meanwhile_says_so_and_keeps_typed_values(app, task):
    g = login(app, "gestionnaire")
    g.get(f"/taches/{task.id}")
    cases.complete_task(user("admin"), task.id, {"admissible": "yes", "category": "product", "severity": "low"})
    resp = g.post(f"/taches/{task.id}", data={**QUALIFY, "qualification_comment": "Mon analyse détaillée"})
    assert resp.status_code == 409
    page = text(resp)
    assert "Cette tâche a été terminée entre-temps par admin." in page
    assert "Vos saisies n'ont pas été enregistrées" in page
    assert "Mon analyse détaillée" in resp.get_data(as_text=True)
    assert cases.get_case(task.case_reference).data["category"] == "product"  # the first completion stands


def test_not_in_lane_is_403(app, task):
    svc = login(app, "service")
    assert svc.get(f"/taches/{task.id}").status_code == 403
    assert svc.post(f"/taches/{task.id}", data=QUALIFY).status_code == 403


def test_task_held_by_someone_else_cannot_be_completed(app, task):
    from app.services.tasks import actions as tasks

    tasks.claim(user("admin"), task.id)
    g = login(app, "gestionnaire")
    assert "Tâche détenue par admin." in text(g.get(f"/taches/{task.id}"))
    resp = g.post(f"/taches/{task.id}", data=QUALIFY)
    assert resp.status_code == 403 and "attribuée à admin" in text(resp)


def test_draft_saved_then_restored(app, task):
    g = login(app, "gestionnaire")
    resp = g.post(f"/taches/{task.id}", data={"action": "draft", "category": "delivery",
                                               "qualification_comment": "À finir demain"})
    assert resp.status_code == 302
    db.session.expire_all()
    row = db.session.get(TaskRow, task.id)
    assert row.state == "ready"
    assert row.draft == {"category": "delivery", "qualification_comment": "À finir demain"}
    html = g.get(f"/taches/{task.id}").get_data(as_text=True)
    assert "Brouillon restauré" in html
    assert '<option selected value="delivery">Livraison</option>' in html
    assert "À finir demain</textarea>" in html
    events = db.session.scalars(select(AuditEvent.type).where(AuditEvent.task_id == task.id)).all()
    assert "draft_saved" in events
    # completing clears the draft
    g.post(f"/taches/{task.id}", data=QUALIFY)
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).draft is None


def test_invalid_draft_is_refused_and_nothing_saved(app, task):
    resp = login(app, "gestionnaire").post(f"/taches/{task.id}", data={"action": "draft", "category": "weather"})
    assert resp.status_code == 422 and '<p class="error" id="category-error">Choix invalide.</p>' in \
        resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).draft is None


def test_csrf_token_required(app, task):
    g = login(app, "gestionnaire")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = g.post(f"/taches/{task.id}", data=QUALIFY)
        assert resp.status_code == 400 and "jeton de sécurité" in text(resp)
        assert g.post(f"/taches/{task.id}/prendre").status_code == 400
        db.session.expire_all()
        assert db.session.get(TaskRow, task.id).state == "ready"
        assert db.session.get(TaskRow, task.id).assignee is None
        # with the page's token the same submission goes through
        html = g.get(f"/taches/{task.id}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        assert g.post(f"/taches/{task.id}", data={**QUALIFY, "csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_long_field_keeps_bad_text_and_shows_the_shared_message(app):
    spec = FieldSpec(name="score", label="Nombre de pièces", type="long", required=True, min=1, max=500)
    with app.test_request_context("/", method="POST", data={"score": "beaucoup"}):
        from flask import render_template_string

        from app.forms.builder import submitted
        from app.forms.fields import validate_submission

        form = build_form([spec])
        _clean, errors = validate_submission([spec], submitted(form), html=True)
        assert errors == {"score": "Nombre entier attendu."}
        apply_errors(form, errors)
        html = render_template_string('{% from "forms/macros.html" import render_field %}'
                                      "{{ render_field(form.score) }}", form=form)
    assert 'inputmode="numeric"' in html and 'value="beaucoup"' in html
    assert '<p class="error" id="score-error">Nombre entier attendu.</p>' in html


def test_date_bounds_and_short_enums(app):
    specs = [FieldSpec(name="on", label="Date", type="date", default="2026-12-01", min="2026-01-01"),
             FieldSpec(name="pick", label="Choix", type="enum", options=(("a", "A"), ("b", "B"))),
             FieldSpec(name="many", label="Beaucoup", type="enum", options=tuple((str(i), str(i)) for i in range(5)))]
    with app.test_request_context("/"):
        from flask import render_template_string

        form = build_form(specs)
        html = render_template_string('{% from "forms/macros.html" import render_field %}'
                                      "{% for f in form if f.name != 'csrf_token' %}{{ render_field(f) }}{% endfor %}",
                                      form=form)
    assert 'type="date"' in html and 'value="2026-12-01"' in html and 'min="2026-01-01"' in html
    assert html.count('name="pick" type="radio"') == 2  # two options: radios
    assert '<select id="many" name="many">' in html  # five options: a select


def test_inline_confirmation_is_inert_without_script_and_checked_by_the_server(app, task):
    """The inline preview's tick box is rendered hidden and disabled (never posted without forms.js): without
    script the second page asks; a tick naming other consequences than those chosen confirms nothing."""
    g = login(app, "gestionnaire")
    html = g.get(f"/taches/{task.id}").get_data(as_text=True)
    assert re.search(r'<div class="consequence-summary" id="consequence-summary" hidden>', html)
    assert re.search(r'<input type="checkbox" id="confirm-consequences" name="confirmed" value="" disabled', html)
    assert 'aria-live="polite" data-consequence-for="admissible"' in html
    assert 'data-consequence-key="admissible=no"' in html
    rejected = {**QUALIFY, "admissible": "no", "rejection_reason": "Contrat résilié en 2019."}
    resp = g.post(f"/taches/{task.id}", data={**rejected, "confirmed": "admissible=yes"})
    assert resp.status_code == 200 and "Avant de terminer l'étape" in text(resp)
    assert 'id="consequence-summary"' not in resp.get_data(as_text=True)  # the second page asks instead
    db.session.expire_all()
    assert db.session.get(TaskRow, task.id).state == "ready"
    # the tick box (from the page) beside the second page's hidden field: either names the effects
    resp = g.post(f"/taches/{task.id}", data={**rejected, "confirmed": ["", "admissible=no"]})
    assert resp.status_code == 302
    assert cases.get_case(task.case_reference).status == "closed"
