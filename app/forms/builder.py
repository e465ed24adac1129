"""WTForms forms built from BPMN form fields (FieldSpec): one builder for staff task forms and public pages.

The form only renders and carries the raw submitted values; the checks stay in `validate_submission`
(app/forms/fields.py), the single source of truth shared with the JSON API. So every field keeps exactly
what was typed (numbers and dates are text inputs) and re-renders it beside the error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.widgets import DateInput, TextInput

from app.forms.consequences import consequence
from app.forms.fields import RESERVED_IDS, FieldSpec, choice_key

EMPTY_CHOICE = SelectChoice("", "— Choisir —")
# Bounded integers with at most this many values may be rendered as radio buttons (e.g. a 1-5 score).
MAX_RADIO_RANGE = 11
# Choice lists this short are radio buttons (all options visible, one keystroke each) unless widget=select.
MAX_RADIO_OPTIONS = 4


def _prop(spec: FieldSpec, key: str) -> str | None:
    return dict(spec.properties).get(key)


def _bool_default(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("true", "1", "oui", "yes", "on")


def _choices(spec: FieldSpec) -> list[SelectChoice] | None:
    if spec.type == "enum":
        return [SelectChoice(value, label) for value, label in spec.options]
    if (spec.type == "long" and spec.min is not None and spec.max is not None
            and 0 <= spec.max - spec.min < MAX_RADIO_RANGE):
        return [SelectChoice(str(i), str(i)) for i in range(int(spec.min), int(spec.max) + 1)]
    return None


def make_field(spec: FieldSpec, render_kw: Mapping | None = None, label_property: str | None = None):
    """The unbound WTForms field for one FieldSpec (label, default, HTML hints from the constraints).

    `label_property` names a field property whose value replaces the label (e.g. public_label)."""
    kw: dict = {}
    if spec.required and spec.type != "boolean":
        # An HTML-required checkbox could never be sent unticked (see docs/modelling.md, 1.3).
        kw["required"] = True
        kw["aria-required"] = "true"
    if spec.maxlength is not None and spec.type in ("string", "text"):
        kw["maxlength"] = spec.maxlength
    if spec.readonly:
        kw["readonly"] = True
    if spec.type == "date":  # the date picker greys out days outside the BPMN bounds
        kw.update({key: getattr(spec, key) for key in ("min", "max") if getattr(spec, key) is not None})
    if spec.required_if is not None:
        # static/forms.js shows the field and marks it required when the other field has one of the values
        kw["data-required-if"] = f"{spec.required_if[0]}={','.join(spec.required_if[1])}"
    kw.update(render_kw or {})
    label, default = (label_property and _prop(spec, label_property)) or spec.label, spec.default
    widget = _prop(spec, "widget")
    if spec.type == "enum" and widget is None and len(spec.options) <= MAX_RADIO_OPTIONS:
        widget = "radio"
    choices = _choices(spec)
    if spec.type == "boolean":
        return BooleanField(label, default=_bool_default(default), render_kw=kw)
    if choices is not None and (spec.type == "enum" or widget == "radio"):
        if widget == "radio":
            return RadioField(label, choices=choices, default=default, validate_choice=False, render_kw=kw)
        if not (spec.required and default):
            choices = [EMPTY_CHOICE, *choices]
        return SelectField(label, choices=choices, default=default or "", validate_choice=False, render_kw=kw)
    if spec.type == "text":
        return TextAreaField(label, default=default, render_kw={"rows": 5, **kw})
    if spec.type == "date":
        return StringField(label, default=default, widget=DateInput(), render_kw=kw)
    if spec.type in ("long", "decimal"):
        # Text, not type=number: "12,50" is valid here and the browser must not swallow what was typed.
        kw.setdefault("inputmode", "numeric" if spec.type == "long" else "decimal")
        return StringField(label, default=default, widget=TextInput(), render_kw=kw)
    return StringField(label, default=default, render_kw=kw)


def build_form(fields: Iterable[FieldSpec], *, prefix: str | None = None, exclude: Iterable[str] = (),
               data: Mapping | None = None, base: type[FlaskForm] = FlaskForm,
               render_kw: Mapping[str, Mapping] | None = None, label_property: str | None = None,
               **form_kwargs) -> FlaskForm:
    """A form instance with one field per FieldSpec (minus `exclude`), bound to the request's data.

    `data` gives initial values (e.g. a saved draft), `base` adds static fields (e.g. a honeypot),
    `render_kw` adds HTML attributes per field name (autocomplete, type=email, ...), `label_property` takes
    the labels from a field property when present (public_label on the public pages).
    """
    skipped = set(exclude)
    specs = [spec for spec in fields if spec.name not in skipped]
    # A field named like a form attribute (a version deployed before such ids were refused) would break the
    # page: it is left out and named in form.unavailable; the service then reports it missing if required.
    taken = RESERVED_IDS | {name for name in dir(base) if not name.startswith("_")}
    unavailable = [spec.name for spec in specs if spec.name in taken]
    specs = [spec for spec in specs if spec.name not in taken]
    attrs = {spec.name: make_field(spec, (render_kw or {}).get(spec.name), label_property) for spec in specs}
    form_class = type("BpmnForm", (base,), attrs)
    form = form_class(prefix=prefix or "", data=dict(data) if data else None, **form_kwargs)
    form.specs = specs
    form.unavailable = unavailable
    if unavailable:
        form.form_errors.append(f"Ce formulaire contient un champ au nom réservé ({', '.join(unavailable)}) qui "
                                "ne peut pas être affiché : demandez au propriétaire du processus de le renommer.")
    for spec in specs:
        # what each option will do (consequence_<option> properties), shown beside the option
        form[spec.name].consequences = {option: text for option, _ in spec.options
                                        if (text := consequence(spec, option))}
        # the key the confirmation names (app/forms/consequences.py), for the inline preview's tick box
        form[spec.name].consequence_keys = {option: f"{spec.name}={choice_key(option)}"
                                            for option in form[spec.name].consequences}
        form[spec.name].required_if = form[spec.name].render_kw.get("data-required-if") \
            if form[spec.name].render_kw else None
    return form


def submitted(form: FlaskForm) -> dict:
    """The raw values the client sent for the BPMN fields, ready for validate_submission(..., html=True)."""
    values = {}
    for spec in form.specs:
        field = form[spec.name]
        if isinstance(field, BooleanField):
            values[spec.name] = field.data if field.raw_data else None
        else:
            values[spec.name] = field.raw_data[0] if field.raw_data else None
    return values


def apply_errors(form: FlaskForm, errors: Mapping[str, str]) -> None:
    """Show the service's field errors beside the fields; errors on unknown names go to form_errors."""
    for name, message in errors.items():
        if name in form._fields:
            form[name].errors = [*form[name].errors, message]
        else:
            form.form_errors.append(message)
