"""The WTForms builder: one field per FieldSpec type, raw values kept, service errors shown beside fields."""

import re

import pytest
from flask import render_template_string

from app.forms.builder import apply_errors, build_form, submitted
from app.forms.fields import FieldSpec, validate_submission

SPECS = [
    FieldSpec("title", "Titre", "string", required=True, maxlength=20),
    FieldSpec("notes", "Notes", "text", default="rien"),
    FieldSpec("count", "Nombre", "long", min=0, max=1000),
    FieldSpec("price", "Prix", "decimal"),
    FieldSpec("urgent", "Urgent", "boolean", required=True, default="false"),
    FieldSpec("on", "Le", "date"),
    FieldSpec("color", "Couleur", "enum", options=(("red", "Rouge"), ("blue", "Bleu")),
              properties=(("widget", "select"),)),
    FieldSpec("size", "Taille", "enum", required=True, default="m", options=(("s", "S"), ("m", "M")),
              properties=(("widget", "radio"), ("public_label", "Votre taille"))),
    FieldSpec("score", "Note", "long", required=True, min=1, max=5, properties=(("widget", "radio"),)),
    FieldSpec("secret", "Interne", "string"),
]
MACRO = ('{% from "forms/macros.html" import render_field %}'
         "{% for s in form.specs %}{{ render_field(form[s.name]) }}{% endfor %}")


def render(form) -> str:
    return render_template_string(MACRO, form=form)


def test_get_renders_every_type_with_defaults_and_hints(app):
    with app.test_request_context("/"):
        form = build_form(SPECS, exclude=("secret",), label_property="public_label")
        html = render(form)
    assert [s.name for s in form.specs] == [s.name for s in SPECS if s.name != "secret"]
    assert 'name="secret"' not in html
    assert re.search(r'<input aria-required="true" id="title" maxlength="20" name="title" required type="text"', html)
    assert re.search(r'<textarea id="notes" name="notes" rows="5">\s*rien</textarea>', html)
    assert 'inputmode="numeric" name="count" type="text"' in html  # text, so "12,5" is kept as typed
    assert 'inputmode="decimal" name="price" type="text"' in html
    assert re.search(r'<input id="urgent" name="urgent" type="checkbox"', html)  # no HTML required on a checkbox
    assert 'name="on" type="date"' in html
    assert '<option selected value="">— Choisir —</option><option value="red">Rouge</option>' in html
    assert "<legend>Votre taille" in html and re.search(r'checked id="size-1" name="size" required type="radio"', html)
    assert html.count('name="score" required type="radio"') == 5


def test_post_keeps_raw_values_and_shows_service_errors(app):
    data = {"title": "x" * 25, "count": "12,5", "price": "abc", "on": "2026-02-30", "color": "green",
            "size": "m", "score": "7", "notes": "Bonjour"}
    with app.test_request_context("/", method="POST", data=data):
        form = build_form(SPECS, exclude=("secret",))
        raw = submitted(form)
        assert raw["urgent"] is None and raw["count"] == "12,5"  # unticked box: not sent
        clean, errors = validate_submission(form.specs, raw, html=True)
        assert clean["urgent"] is False and clean["notes"] == "Bonjour"
        assert set(errors) == {"title", "count", "price", "on", "color", "score"}
        apply_errors(form, {**errors, "ghost": "Champ inconnu."})
        html = render(form)
    assert form.form_errors == ["Champ inconnu."]
    assert 'value="12,5"' in html and 'value="abc"' in html and 'value="2026-02-30"' in html
    assert '<p class="error" id="on-error">Cette date n&#39;existe pas.</p>' in html
    assert 'aria-describedby="count-error" aria-invalid="true"' in html
    assert '<p class="error" id="score-error">La valeur doit être inférieure ou égale à 5.</p>' in html


def test_ticked_box_and_valid_values_pass(app):
    data = {"title": "Bon", "urgent": "y", "count": "3", "price": "12,50", "on": "2026-12-01", "size": "s",
            "score": "5", "color": ""}
    with app.test_request_context("/", method="POST", data=data):
        form = build_form(SPECS, exclude=("secret",))
        clean, errors = validate_submission(form.specs, submitted(form), html=True)
    assert errors == {}
    assert clean == {"title": "Bon", "urgent": True, "count": 3, "price": 12.5, "on": "2026-12-01", "size": "s",
                     "score": 5, "color": None, "notes": None}


def test_prefix_and_initial_data(app):
    with app.test_request_context("/"):
        form = build_form(SPECS[:1], prefix="t1", data={"title": "Brouillon"})
        html = render(form)
    assert 'id="t1-title"' in html and 'name="t1-title"' in html and 'value="Brouillon"' in html


@pytest.mark.parametrize("exclude", [(), ("title",)])
def test_exclude(app, exclude):
    with app.test_request_context("/"):
        form = build_form(SPECS[:2], exclude=exclude)
    assert ("title" in form._fields) is (not exclude)
