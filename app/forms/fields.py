"""Form fields declared in BPMN (camunda:formField): definition checks, JSON description, submission checks.

Why one module over 400 lines: the field types' definitions, their conversion and the validation of what is
submitted (constraints, required_if, reserved ids) share one table of types and must agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from keyword import iskeyword
from typing import Any

from app.formatting import parse_amount, parse_date_fr
from app.vocabulary import MAX_DAY, MIN_DAY

SUPPORTED_TYPES = ("string", "text", "long", "decimal", "boolean", "date", "enum")
MAX_STRING_LENGTH = 10_000
MAX_SAFE_INTEGER = 2**53  # beyond this, JSON clients (JavaScript numbers) silently lose precision
MAX_DECIMAL = 1e13  # keeps two exact decimal places in a float
REQUIRED_MESSAGE = "Ce champ est obligatoire."
UNKNOWN_MESSAGE = "Champ inconnu."

_NUMERIC = ("long", "decimal")
_TEXTUAL = ("string", "text")
_TRUE = frozenset({"true", "on", "y", "yes", "1", "oui", "o", "t"})
_FALSE = frozenset({"false", "off", "n", "no", "0", "non", "f"})
# re.ASCII: \d would otherwise accept Arabic-Indic and other Unicode digits that int() understands.
_INT_RE = re.compile(r"[+-]?\d{1,20}", re.ASCII)
_DECIMAL_RE = re.compile(r"[+-]?(?:\d{1,20}(?:[.,]\d{0,20})?|[.,]\d{1,20})", re.ASCII)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_FR_DATE_RE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}", re.ASCII)
_CONSTRAINTS = ("required", "readonly", "min", "max", "minlength", "maxlength", "pattern", "required_if")


class FormDefinitionError(ValueError):
    """A camunda:formField that cannot be turned into a usable field."""


@dataclass(frozen=True)
class FieldSpec:
    """One form field, checked and normalised; min/max are numbers, or YYYY-MM-DD strings for dates."""

    name: str
    label: str
    type: str
    required: bool = False
    default: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    min: float | str | None = None
    max: float | str | None = None
    minlength: int | None = None
    maxlength: int | None = None
    pattern: str | None = None
    readonly: bool = False
    properties: tuple[tuple[str, str], ...] = ()
    # required_if: (controlling field id, the values that make this field required), from "field=v1,v2".
    required_if: tuple[str, tuple[str, ...]] | None = None


class _Invalid(Exception):
    """A submitted value is refused; the message is French and safe to show."""


# --- definitions ---------------------------------------------------------------------------------

def _flag(name: str, key: str, config: Any) -> bool:
    # Camunda writes <camunda:constraint name="required" /> with no config: that means "on".
    text = "" if config is None else str(config).strip().lower()
    if text in ("", "true"):
        return True
    if text == "false":
        return False
    raise FormDefinitionError(f"Champ « {name} » : la contrainte {key} attend true ou false.")


def _bound(name: str, kind: str, key: str, config: Any) -> float | str:
    text = "" if config is None else str(config).strip()
    if kind == "date":
        if not _DATE_RE.fullmatch(text):  # a BPMN file writes dates in ISO
            raise FormDefinitionError(f"Champ « {name} » : {key} doit être une date AAAA-MM-JJ.")
        try:
            return _to_date(text)
        except _Invalid:
            raise FormDefinitionError(f"Champ « {name} » : {key} doit être une date AAAA-MM-JJ.") from None
    if kind not in _NUMERIC:
        raise FormDefinitionError(f"Champ « {name} » : la contrainte {key} ne s'applique pas au type {kind}.")
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise FormDefinitionError(f"Champ « {name} » : {key} doit être un nombre.")
    return value


def _length(name: str, kind: str, key: str, config: Any) -> int:
    if kind not in _TEXTUAL:
        raise FormDefinitionError(f"Champ « {name} » : la contrainte {key} ne s'applique pas au type {kind}.")
    text = "" if config is None else str(config).strip()
    if not re.fullmatch(r"\d{1,7}", text, re.ASCII) or (key == "maxlength" and int(text) == 0):
        raise FormDefinitionError(f"Champ « {name} » : {key} doit être un entier positif.")
    return int(text)


def _reserved_ids() -> frozenset[str]:
    """Names a WTForms form already uses (meta, data, errors, validate...) and the public forms' own fields:
    a BPMN field with one of these ids would replace the form's attribute and break the page."""
    from flask_wtf import FlaskForm

    own = {name for name in dir(FlaskForm) if not name.startswith("_")}
    return frozenset(own | {"meta", "form_errors", "csrf_token", "website", "is_spam", "specs"})


RESERVED_IDS = _reserved_ids()


def reserved_id_message(name: str) -> str | None:
    """The French refusal of a field id the forms reserve, or None (checked at deploy, not when a stored
    version is read back, so a version deployed before keeps working)."""
    if name not in RESERVED_IDS:
        return None
    return (f"Champ « {name} » : identifiant réservé par les formulaires, choisissez-en un autre "
            f"(réservés : {', '.join(sorted(RESERVED_IDS))}).")


def _required_if(name: str, config: Any) -> tuple[str, tuple[str, ...]]:
    text = "" if config is None else str(config).strip()
    field, sep, raw_values = text.partition("=")
    values = tuple(v.strip().lower() for v in raw_values.split(",") if v.strip())
    if not sep or not field.strip().isidentifier() or not values:
        raise FormDefinitionError(f"Champ « {name} » : required_if attend « champ=valeur » "
                                  "(plusieurs valeurs séparées par des virgules), par exemple payment_blocked=yes.")
    if field.strip() == name:
        raise FormDefinitionError(f"Champ « {name} » : required_if ne peut pas dépendre du champ lui-même.")
    return field.strip(), values


def from_camunda(field: Any) -> FieldSpec:
    """Build a FieldSpec from a SpiffWorkflow camunda FormField (duck-typed); raise FormDefinitionError."""
    name = getattr(field, "id", None)
    # Field ids become task data variables read by conditions, so they must be plain identifiers.
    if not isinstance(name, str) or not name.isidentifier() or iskeyword(name) or name.startswith("_"):
        raise FormDefinitionError(f"Champ « {name} » : identifiant invalide (lettres, chiffres, _ ; pas de _ initial).")
    kind = str(getattr(field, "type", None) or "string").strip().lower()
    if kind not in SUPPORTED_TYPES:
        raise FormDefinitionError(f"Champ « {name} » : type « {kind} » non pris en charge.")
    values: dict[str, Any] = {}
    for rule in getattr(field, "validation", None) or ():
        key = (getattr(rule, "name", None) or "").strip().lower()
        config = getattr(rule, "config", None)
        if key in ("required", "readonly"):
            values[key] = _flag(name, key, config)
        elif key in ("min", "max"):
            values[key] = _bound(name, kind, key, config)
        elif key in ("minlength", "maxlength"):
            values[key] = _length(name, kind, key, config)
        elif key == "pattern":
            if kind not in _TEXTUAL or not config:
                raise FormDefinitionError(f"Champ « {name} » : pattern exige un champ texte et une expression.")
            try:
                re.compile(str(config))
            except re.error:
                raise FormDefinitionError(f"Champ « {name} » : expression régulière invalide.") from None
            values[key] = str(config)
        elif key == "required_if":
            values[key] = _required_if(name, config)
        else:
            raise FormDefinitionError(f"Champ « {name} » : contrainte « {key} » inconnue ({', '.join(_CONSTRAINTS)}).")
    for low, high in (("min", "max"), ("minlength", "maxlength")):
        if values.get(low) is not None and values.get(high) is not None and values[low] > values[high]:
            raise FormDefinitionError(f"Champ « {name} » : {low} est supérieur à {high}.")
    options: list[tuple[str, str]] = []
    if kind == "enum":
        for option in getattr(field, "options", None) or ():
            option_id = getattr(option, "id", None)
            if not option_id or any(option_id == known for known, _ in options):
                raise FormDefinitionError(f"Champ « {name} » : option vide ou en double.")
            options.append((str(option_id), str(getattr(option, "name", None) or option_id)))
        if not options:
            raise FormDefinitionError(f"Champ « {name} » : une liste de choix doit avoir au moins une option.")
    properties = tuple((str(p.id), "" if p.value is None else str(p.value))
                       for p in getattr(field, "properties", None) or () if getattr(p, "id", None))
    default = getattr(field, "default_value", None)
    spec = FieldSpec(name=name, label=str(getattr(field, "label", None) or name), type=kind,
                     default=None if default in (None, "") else str(default), options=tuple(options),
                     properties=properties, **values)
    if spec.default is not None:
        try:
            _check(spec, _convert(spec, spec.default))
        except _Invalid as exc:
            raise FormDefinitionError(f"Champ « {name} » : valeur par défaut invalide ({exc})") from None
    return spec


def fields_from_camunda(fields: Iterable[Any]) -> tuple[FieldSpec, ...]:
    """Convert every field of a camunda form, refusing duplicate ids."""
    specs = tuple(from_camunda(f) for f in fields)
    by_name = _by_name(specs)
    for spec in specs:
        if spec.required_if is None:
            continue
        other, values = spec.required_if
        if other not in by_name:
            raise FormDefinitionError(f"Champ « {spec.name} » : required_if nomme « {other} », absent de ce "
                                      "formulaire.")
        known = _choice_keys(by_name[other])
        if known is not None and not set(values) <= known:
            raise FormDefinitionError(f"Champ « {spec.name} » : required_if attend une valeur de « {other} » "
                                      f"({', '.join(sorted(known))}).")
    return specs


def _choice_keys(spec: FieldSpec) -> set[str] | None:
    """The values a choice field can take, as required_if and consequences name them (None: free input)."""
    if spec.type == "enum":
        return {option.lower() for option, _ in spec.options}
    if spec.type == "boolean":
        return {"true", "false"}
    return None


def choice_key(value: Any) -> str:
    """A submitted value as required_if and consequence_ properties name it (true/false, an option id)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip().lower()




def _by_name(fields: Iterable[FieldSpec]) -> dict[str, FieldSpec]:
    found: dict[str, FieldSpec] = {}
    for spec in fields:
        if spec.name in found:
            raise FormDefinitionError(f"Champ « {spec.name} » : déclaré deux fois.")
        found[spec.name] = spec
    return found


# --- values --------------------------------------------------------------------------------------

def _fmt(spec: FieldSpec, bound: float | str) -> str:
    if isinstance(bound, str):
        return bound
    text = str(int(bound)) if float(bound).is_integer() else f"{bound:.2f}".rstrip("0")
    return text.replace(".", ",")  # French decimal separator in messages


def _to_date(raw: Any) -> str:
    if isinstance(raw, str) and _FR_DATE_RE.fullmatch(raw.strip()):  # typed the French way: 03/12/2026
        try:
            return parse_date_fr(raw.strip()).isoformat()
        except ValueError:
            raise _Invalid("Cette date n'existe pas.") from None
    if not isinstance(raw, str) or not _DATE_RE.fullmatch(raw.strip()):
        raise _Invalid("Date attendue au format JJ/MM/AAAA (ou AAAA-MM-JJ).")
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise _Invalid("Cette date n'existe pas.") from None
    if not MIN_DAY <= day <= MAX_DAY:  # beyond, a time zone or a delay overflows the calendar
        raise _Invalid("Date hors des limites admises (du 01/01/1900 au 31/12/2999).")
    return day.isoformat()


def _to_long(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _Invalid("Nombre entier attendu.")
    if isinstance(raw, float):
        if not raw.is_integer():  # also refuses NaN and infinities
            raise _Invalid("Nombre entier attendu.")
        raw = int(raw) if abs(raw) <= MAX_SAFE_INTEGER else MAX_SAFE_INTEGER + 1
    elif isinstance(raw, str):
        if not _INT_RE.fullmatch(raw.strip()):
            raise _Invalid("Nombre entier attendu.")
        raw = int(raw.strip())
    if abs(raw) > MAX_SAFE_INTEGER:
        raise _Invalid("Nombre trop grand.")
    return raw


def _to_decimal(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _Invalid("Nombre attendu.")
    if isinstance(raw, str):
        text = raw.strip()
        if _DECIMAL_RE.fullmatch(text):
            raw = float(text.replace(",", "."))
        else:  # what French people type: « 1 250,40 », « 1250,40 € » (Babel)
            try:
                raw = float(parse_amount(text))
            except ValueError:
                raise _Invalid("Nombre attendu (par exemple 12,50).") from None
    if not isinstance(raw, int) and not math.isfinite(raw):
        raise _Invalid("Nombre attendu.")
    if abs(raw) > MAX_DECIMAL:
        raise _Invalid("Nombre trop grand.")
    return round(float(raw), 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise _Invalid("Valeur oui/non attendue.")


def _convert(spec: FieldSpec, raw: Any) -> Any:
    """Turn a submitted (non-empty) value into the field's Python type, or raise _Invalid."""
    if spec.type in _TEXTUAL:
        if not isinstance(raw, str):
            raise _Invalid("Texte attendu.")
        if "\x00" in raw:  # PostgreSQL text columns cannot store NUL
            raise _Invalid("Le texte contient des caractères non autorisés.")
        return raw.strip()
    if spec.type == "long":
        return _to_long(raw)
    if spec.type == "decimal":
        return _to_decimal(raw)
    if spec.type == "boolean":
        return _to_bool(raw)
    if spec.type == "date":
        return _to_date(raw)
    if not isinstance(raw, str) or raw.strip() not in {option for option, _ in spec.options}:
        raise _Invalid("Choix invalide.")
    return raw.strip()


def _check(spec: FieldSpec, value: Any) -> None:
    """Apply min/max, lengths and pattern to a converted value, or raise _Invalid."""
    if spec.type in _TEXTUAL:
        limit = spec.maxlength if spec.maxlength is not None else MAX_STRING_LENGTH
        if len(value) > limit:
            raise _Invalid(f"{limit} caractères au maximum.")
        if spec.minlength is not None and len(value) < spec.minlength:
            raise _Invalid(f"{spec.minlength} caractères au minimum.")
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            raise _Invalid("Le format de la valeur est incorrect.")
    elif spec.type in _NUMERIC or spec.type == "date":
        if spec.min is not None and value < spec.min:
            raise _Invalid(f"La valeur doit être supérieure ou égale à {_fmt(spec, spec.min)}.")
        if spec.max is not None and value > spec.max:
            raise _Invalid(f"La valeur doit être inférieure ou égale à {_fmt(spec, spec.max)}.")


def field_to_json(spec: FieldSpec) -> dict:
    """Describe a field for API clients and templates, with the default converted to the field's type."""
    try:
        default = None if spec.default is None else _convert(spec, spec.default)
    except _Invalid:
        default = None  # specs built by hand may skip from_camunda's default check
    constraints: dict[str, Any] = {}
    for key in ("min", "max", "minlength", "maxlength", "pattern"):
        value = getattr(spec, key)
        if value is not None:
            if spec.type == "long" and key in ("min", "max"):
                value = int(value)
            constraints[key] = value
    described = {"name": spec.name, "label": spec.label, "type": spec.type, "required": spec.required,
                 "options": [{"id": option, "name": label} for option, label in spec.options],
                 "default": default, "constraints": constraints, "readonly": spec.readonly}
    if spec.required_if:
        described["required_if"] = {"field": spec.required_if[0], "values": list(spec.required_if[1])}
    return described


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def validate_submission(fields: Iterable[FieldSpec], data: Mapping, *, partial: bool = False,
                        html: bool = False) -> tuple[dict, dict]:
    """Check submitted data against fields; return (clean values, {field: French error message})."""
    if not isinstance(data, Mapping):
        # ValueError, not TypeError: callers treat any malformed request body the same way.
        raise ValueError("form data must be a mapping")  # noqa: TRY004
    by_name = _by_name(fields)
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in data:
        if not isinstance(key, str) or key not in by_name:
            errors[str(key)[:100]] = UNKNOWN_MESSAGE
    for name, spec in by_name.items():
        if spec.readonly:
            continue  # the process owns readonly values: whatever the client sends is dropped
        present = name in data
        raw = data.get(name)
        if spec.type == "boolean" and html and _is_empty(raw):
            # An unticked HTML checkbox is simply not sent.
            clean[name] = False
            continue
        if _is_empty(raw):
            if spec.required and not partial:
                errors[name] = REQUIRED_MESSAGE
            elif present:
                clean[name] = None
            continue
        try:
            value = _convert(spec, raw)
            _check(spec, value)
        except _Invalid as exc:
            errors[name] = str(exc)
        else:
            clean[name] = value
    if not partial:
        _check_required_if(by_name, clean, errors)
    return clean, errors


def _check_required_if(by_name: Mapping[str, FieldSpec], clean: dict, errors: dict) -> None:
    """A field required only for some values of another field (blocked amount when a payment is blocked)."""
    for name, spec in by_name.items():
        if spec.required_if is None or name in errors or not _is_empty(clean.get(name)):
            continue
        other, values = spec.required_if
        if other in errors or choice_key(clean.get(other)) not in values:
            continue
        chosen = by_name.get(other)
        label = dict(chosen.options).get(clean.get(other)) if chosen and chosen.type == "enum" else None
        if chosen is not None and chosen.type == "boolean":
            label = "Oui" if clean.get(other) else "Non"
        errors[name] = (f"Ce champ est obligatoire quand « {chosen.label} » vaut « {label or clean.get(other)} »."
                        if chosen is not None else REQUIRED_MESSAGE)
