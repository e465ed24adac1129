"""Tests for app.forms.fields: camunda field definitions, JSON description and submission checks."""

import math
from types import SimpleNamespace as NS

import pytest

from app.forms.fields import (
    MAX_STRING_LENGTH,
    REQUIRED_MESSAGE,
    SUPPORTED_TYPES,
    UNKNOWN_MESSAGE,
    FieldSpec,
    FormDefinitionError,
    field_to_json,
    fields_from_camunda,
    from_camunda,
    validate_submission,
)

DATE_FORMAT = "Date attendue au format JJ/MM/AAAA (ou AAAA-MM-JJ)."


def camunda(id="f", type="string", label="Libellé", default=None, validation=(), properties=(), options=None):
    """A duck-typed stand-in for SpiffWorkflow's camunda FormField."""
    field = NS(id=id, type=type, label=label, default_value=default,
               validation=[NS(name=n, config=c) for n, c in validation],
               properties=[NS(id=i, value=v) for i, v in properties])
    if options is not None:
        field.options = [NS(id=i, name=n) for i, n in options]
    return field


def spec(type="string", name="f", **kwargs):
    return FieldSpec(name=name, label=name, type=type, **kwargs)


def check(field, value, **kwargs):
    """Validate a single value for a single field."""
    return validate_submission([field], {field.name: value}, **kwargs)


# --- from_camunda --------------------------------------------------------------------------------

def test_from_camunda_full_string_field():
    field = camunda(id="reason", label="Motif", default="  x ",
                    validation=[("required", None), ("minlength", "1"), ("maxlength", "50"), ("pattern", "[a-z ]+")],
                    properties=[("placeholder", "Expliquez"), ("empty", None)])
    result = from_camunda(field)
    assert result == FieldSpec(name="reason", label="Motif", type="string", required=True, default="  x ",
                               minlength=1, maxlength=50, pattern="[a-z ]+",
                               properties=(("placeholder", "Expliquez"), ("empty", "")))


@pytest.mark.parametrize("kind", SUPPORTED_TYPES)
def test_from_camunda_every_supported_type(kind):
    options = [("a", "A")] if kind == "enum" else None
    assert from_camunda(camunda(type=kind, options=options)).type == kind


def test_from_camunda_missing_type_and_label_default_to_string_and_id():
    result = from_camunda(camunda(type=None, label=None))
    assert (result.type, result.label) == ("string", "f")


def test_from_camunda_type_is_case_insensitive():
    assert from_camunda(camunda(type="Long")).type == "long"


def test_from_camunda_real_spiff_form_field():
    user_task = pytest.importorskip("SpiffWorkflow.camunda.specs.user_task")
    field = user_task.EnumFormField()
    field.id, field.label, field.default_value = "kind", "Nature", "b"
    field.add_option("a", "Réclamation")
    field.add_option("b", "Litige")
    field.add_validation("required", "true")
    field.add_property("help", "Choisir")
    result = from_camunda(field)
    assert result.options == (("a", "Réclamation"), ("b", "Litige"))
    assert result.required and result.default == "b" and result.properties == (("help", "Choisir"),)


@pytest.mark.parametrize("field, fragment", [
    (camunda(type="file"), "non pris en charge"),
    (camunda(type="long", validation=[("min", "abc")]), "nombre"),
    (camunda(type="long", validation=[("max", "nan")]), "nombre"),
    (camunda(type="decimal", validation=[("min", "inf")]), "nombre"),
    (camunda(type="long", validation=[("min", "10"), ("max", "1")]), "supérieur"),
    (camunda(type="date", validation=[("min", "2026-02-30")]), "date"),
    (camunda(type="date", validation=[("max", "01/02/2026")]), "date"),
    (camunda(type="string", validation=[("min", "1")]), "ne s'applique pas"),
    (camunda(type="long", validation=[("maxlength", "3")]), "ne s'applique pas"),
    (camunda(validation=[("maxlength", "-1")]), "entier positif"),
    (camunda(validation=[("maxlength", "0")]), "entier positif"),
    (camunda(validation=[("minlength", "x")]), "entier positif"),
    (camunda(validation=[("minlength", "5"), ("maxlength", "2")]), "supérieur"),
    (camunda(validation=[("pattern", "[a-")]), "régulière"),
    (camunda(validation=[("pattern", "")]), "pattern"),
    (camunda(type="long", validation=[("pattern", "a")]), "pattern"),
    (camunda(validation=[("required", "maybe")]), "true ou false"),
    (camunda(validation=[("validator", "x")]), "inconnue"),
    (camunda(type="enum", options=[]), "au moins une option"),
    (camunda(type="enum"), "au moins une option"),
    (camunda(type="enum", options=[("a", "A"), ("a", "B")]), "double"),
    (camunda(type="enum", options=[("", "A")]), "double"),
    (camunda(type="long", default="12.5"), "par défaut"),
    (camunda(type="long", default="5", validation=[("min", "10")]), "par défaut"),
    (camunda(type="enum", default="z", options=[("a", "A")]), "par défaut"),
    (camunda(type="boolean", default="peut-être"), "par défaut"),
    (camunda(id=None), "identifiant"),
    (camunda(id="1abc"), "identifiant"),
    (camunda(id="with space"), "identifiant"),
    (camunda(id="_private"), "identifiant"),
    (camunda(id="class"), "identifiant"),
])
def test_from_camunda_refuses_bad_definitions_naming_the_field(field, fragment):
    with pytest.raises(FormDefinitionError) as info:
        from_camunda(field)
    assert fragment in str(info.value)
    assert f"« {field.id} »" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_from_camunda_flags_and_bounds():
    result = from_camunda(camunda(type="decimal", validation=[("required", "false"), ("readonly", "TRUE"),
                                                              ("min", "0,5"), ("max", " 100 ")]))
    assert (result.required, result.readonly, result.min, result.max) == (False, True, 0.5, 100.0)
    dates = from_camunda(camunda(type="date", validation=[("min", "2026-01-01"), ("max", "2026-12-31")]))
    assert (dates.min, dates.max) == ("2026-01-01", "2026-12-31")


def test_from_camunda_ignores_options_on_non_enum_and_empty_default():
    result = from_camunda(camunda(default="", options=[("a", "A")]))
    assert result.options == () and result.default is None


def test_fields_from_camunda_refuses_duplicates():
    assert len(fields_from_camunda([camunda(id="a"), camunda(id="b")])) == 2
    with pytest.raises(FormDefinitionError, match="deux fois"):
        fields_from_camunda([camunda(id="a"), camunda(id="a")])


# --- field_to_json -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, default, expected", [
    ("boolean", "true", True), ("boolean", "false", False), ("long", "12", 12), ("decimal", "12,5", 12.5),
    ("string", " hi ", "hi"), ("date", "2026-03-01", "2026-03-01"), ("long", None, None),
    ("long", "not a number", None),
])
def test_field_to_json_converts_default(kind, default, expected):
    data = field_to_json(spec(kind, default=default))
    assert data["default"] == expected and type(data["default"]) is type(expected)


def test_field_to_json_shape():
    field = from_camunda(camunda(id="kind", type="enum", label="Nature", default="a",
                                 options=[("a", "Réclamation"), ("b", "Litige")], validation=[("required", "")]))
    assert field_to_json(field) == {
        "name": "kind", "label": "Nature", "type": "enum", "required": True,
        "options": [{"id": "a", "name": "Réclamation"}, {"id": "b", "name": "Litige"}],
        "default": "a", "constraints": {}, "readonly": False}


def test_field_to_json_constraints_only_those_set():
    assert field_to_json(spec("long", min=1.0, max=10.0))["constraints"] == {"min": 1, "max": 10}
    assert field_to_json(spec("decimal", min=0.5))["constraints"] == {"min": 0.5}
    assert field_to_json(spec(maxlength=5, pattern="a+"))["constraints"] == {"maxlength": 5, "pattern": "a+"}
    assert field_to_json(spec("date", max="2026-01-01", readonly=True))["constraints"] == {"max": "2026-01-01"}


# --- validate_submission: types ------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [("  bonjour  ", "bonjour"), ("a\nb", "a\nb"), ("é" * 10, "é" * 10)])
def test_string_values_are_stripped(raw, expected):
    assert check(spec("text"), raw) == ({"f": expected}, {})


@pytest.mark.parametrize("raw", [12, 1.5, True, [], {}, ["a"], "a\x00b"])
def test_string_refuses_non_strings_and_nul(raw):
    clean, errors = check(spec(), raw)
    assert clean == {} and set(errors) == {"f"}


def test_string_length_cap():
    assert check(spec(), "a" * MAX_STRING_LENGTH)[1] == {}
    assert "10000 caractères" in check(spec(), "a" * (MAX_STRING_LENGTH + 1))[1]["f"]
    assert check(spec("text", maxlength=20_000), "a" * 15_000)[1] == {}
    assert check(spec(maxlength=3), "abcd")[1] == {"f": "3 caractères au maximum."}


@pytest.mark.parametrize("raw, expected", [
    (0, 0), (12, 12), (-3, -3), (12.0, 12), ("12", 12), (" -7 ", -7), ("+5", 5), ("007", 7),
    (2**53, 2**53), (-(2**53), -(2**53)),
])
def test_long_accepts(raw, expected):
    clean, errors = check(spec("long"), raw)
    assert errors == {} and clean == {"f": expected} and type(clean["f"]) is int


@pytest.mark.parametrize("raw", [
    12.5, "12.5", "12,0", True, False, "abc", "1e3", "1_000", "١٢", "0x10", 2**53 + 1, -(2**53) - 1,
    float(2**60), "9" * 30, math.nan, math.inf, -math.inf, [1], {"a": 1}, "1 000",
])
def test_long_refuses(raw):
    clean, errors = check(spec("long"), raw)
    assert clean == {} and set(errors) == {"f"}


@pytest.mark.parametrize("raw, expected", [
    ("12,50", 12.5), ("12.50", 12.5), (" 3 ", 3.0), (10, 10.0), (1.005, 1.0), (2.675, 2.67), ("0,125", 0.12),
    (".5", 0.5), ("5.", 5.0), ("-0.001", 0.0), (0, 0.0), ("-12,345", -12.35),
])
def test_decimal_accepts(raw, expected):
    clean, errors = check(spec("decimal"), raw)
    assert errors == {} and clean["f"] == pytest.approx(expected) and type(clean["f"]) is float
    assert math.copysign(1, clean["f"]) == math.copysign(1, expected)


@pytest.mark.parametrize("raw", [
    math.nan, math.inf, -math.inf, True, False, "nan", "inf", "1e5", "12,5,0", "1.2.3", "abc", ",", "",
    1e14, 10**20, "9" * 20, [], {},
])
def test_decimal_refuses(raw):
    clean, errors = check(spec("decimal"), raw)
    assert "f" not in clean or clean["f"] is None
    if raw != "":
        assert set(errors) == {"f"}


@pytest.mark.parametrize("raw, expected", [
    (True, True), (False, False), ("on", True), ("y", True), ("true", True), ("1", True), ("OUI", True),
    (" yes ", True), ("off", False), ("n", False), ("false", False), ("0", False), ("non", False),
])
def test_boolean_accepts(raw, expected):
    assert check(spec("boolean"), raw) == ({"f": expected}, {})


@pytest.mark.parametrize("raw", [1, 0, 1.0, "maybe", "vrai!", [], {}, [True]])
def test_boolean_refuses(raw):
    clean, errors = check(spec("boolean"), raw)
    assert clean == {} and errors == {"f": "Valeur oui/non attendue."}


def test_boolean_absent_in_html_is_false_but_missing_in_json():
    field = spec("boolean", required=True)
    assert validate_submission([field], {}, html=True) == ({"f": False}, {})
    assert validate_submission([field], {"f": ""}, html=True) == ({"f": False}, {})
    assert validate_submission([field], {}) == ({}, {"f": REQUIRED_MESSAGE})
    assert validate_submission([spec("boolean")], {}) == ({}, {})


@pytest.mark.parametrize("raw", ["2026-02-28", " 2024-02-29 ", "2026-12-31"])
def test_date_accepts(raw):
    assert check(spec("date"), raw) == ({"f": raw.strip()}, {})


@pytest.mark.parametrize("raw, message", [
    ("2026-02-30", "Cette date n'existe pas."), ("2025-02-29", "Cette date n'existe pas."),
    ("2026-13-01", "Cette date n'existe pas."), ("0000-01-01", "Cette date n'existe pas."),
    ("20260101", DATE_FORMAT), ("01.02.2026", DATE_FORMAT),
    ("2026-01-01T10:00", DATE_FORMAT), (20260101, DATE_FORMAT),
    ("２０２６-01-01", DATE_FORMAT), (True, DATE_FORMAT),
])
def test_date_refuses(raw, message):
    assert check(spec("date"), raw) == ({}, {"f": message})


def test_enum_accepts_only_option_ids():
    field = spec("enum", options=(("a", "Alpha"), ("b", "Bêta")))
    assert check(field, " b ") == ({"f": "b"}, {})
    for raw in ("Alpha", "c", 1, True, ["a"]):
        assert check(field, raw) == ({}, {"f": "Choix invalide."})


# --- validate_submission: constraints ------------------------------------------------------------

@pytest.mark.parametrize("kind, raw", [("long", 0), ("long", "0"), ("decimal", 0.0), ("boolean", False),
                                       ("boolean", "false")])
def test_required_accepts_falsy_values(kind, raw):
    clean, errors = check(spec(kind, required=True), raw)
    assert errors == {} and clean["f"] in (0, False)


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t"])
def test_required_refuses_empty_values(raw):
    assert check(spec(required=True), raw) == ({}, {"f": REQUIRED_MESSAGE})


def test_required_missing_key():
    assert validate_submission([spec("long", required=True)], {}) == ({}, {"f": REQUIRED_MESSAGE})


def test_optional_empty_value_is_none_and_absent_is_left_out():
    assert validate_submission([spec("long"), spec(name="g")], {"f": ""}) == ({"f": None}, {})


def test_partial_skips_required_checks_but_not_type_checks():
    fields = [spec("long", name="a", required=True), spec(name="b", required=True), spec("date", name="c")]
    assert validate_submission(fields, {"b": ""}, partial=True) == ({"b": None}, {})
    assert validate_submission(fields, {"a": "x"}, partial=True) == ({}, {"a": "Nombre entier attendu."})


@pytest.mark.parametrize("kind, bounds, raw, error", [
    ("long", {"min": 1.0, "max": 10.0}, 1, None), ("long", {"min": 1.0, "max": 10.0}, 10, None),
    ("long", {"min": 1.0}, 0, "La valeur doit être supérieure ou égale à 1."),
    ("long", {"max": 10.0}, 11, "La valeur doit être inférieure ou égale à 10."),
    ("decimal", {"min": 0.5}, "0,49", "La valeur doit être supérieure ou égale à 0,5."),
    ("decimal", {"max": 99.99}, "99,99", None), ("decimal", {"max": 99.99}, "99.994", None),
    ("decimal", {"max": 99.99}, "99.996", "La valeur doit être inférieure ou égale à 99,99."),
    ("date", {"min": "2026-01-01"}, "2025-12-31", "La valeur doit être supérieure ou égale à 2026-01-01."),
    ("date", {"max": "2026-01-01"}, "2026-01-02", "La valeur doit être inférieure ou égale à 2026-01-01."),
    ("date", {"min": "2026-01-01", "max": "2026-01-01"}, "2026-01-01", None),
])
def test_bounds(kind, bounds, raw, error):
    _, errors = check(spec(kind, **bounds), raw)
    assert errors == ({} if error is None else {"f": error})


def test_lengths_and_pattern_apply_to_stripped_value():
    field = spec(minlength=2, maxlength=4, pattern=r"[A-Z]+")
    assert check(field, " AB ") == ({"f": "AB"}, {})
    assert check(field, "A") == ({}, {"f": "2 caractères au minimum."})
    assert check(field, "ABCDE") == ({}, {"f": "4 caractères au maximum."})
    assert check(field, "ABc") == ({}, {"f": "Le format de la valeur est incorrect."})
    assert check(spec(pattern=r"\d{3}"), "1234")[1] == {"f": "Le format de la valeur est incorrect."}


def test_readonly_fields_are_ignored():
    fields = [spec(name="ref", readonly=True, required=True), spec(name="note")]
    assert validate_submission(fields, {"ref": "hack", "note": "ok"}) == ({"note": "ok"}, {})
    assert validate_submission(fields, {}) == ({}, {})


def test_unknown_keys_are_errors():
    clean, errors = validate_submission([spec()], {"f": "x", "other": 1, 3: "y", "x" * 500: 1})
    assert clean == {"f": "x"}
    assert errors == {"other": UNKNOWN_MESSAGE, "3": UNKNOWN_MESSAGE, "x" * 100: UNKNOWN_MESSAGE}


@pytest.mark.parametrize("data", [None, [], "f=1", 3, [("f", "1")]])
def test_non_mapping_data_is_a_value_error(data):
    with pytest.raises(ValueError):
        validate_submission([spec()], data)


def test_duplicate_field_names_are_refused():
    with pytest.raises(FormDefinitionError):
        validate_submission([spec(), spec()], {})


def test_errors_never_echo_the_value():
    secret = "<script>SECRET</script>"
    fields = [spec(t, name=t, options=(("a", "A"),) if t == "enum" else ()) for t in SUPPORTED_TYPES if t not in
              ("string", "text")]
    _, errors = validate_submission(fields, {f.name: secret for f in fields})
    assert set(errors) == {f.name for f in fields}
    assert all("SECRET" not in message and "<" not in message and "Traceback" not in message
               for message in errors.values())


# --- robustness ----------------------------------------------------------------------------------

JUNK = [
    None, True, False, 0, -1, 1, 2**64, -(2**64), 10**400, 0.0, -0.0, 1e308, -1e-308, math.nan, math.inf, -math.inf,
    "", " ", "0", "-0", "1e999", "nan", "NaN", "Infinity", "true", "on", "2026-02-29", "9999-12-31", "0001-01-01",
    "a" * 100_000, "\x00", "\ud800", "𝟙𝟚", "١٢٣", "12,5", "1,2,3", "{0.__class__}", "%s%s%n", "'; DROP TABLE x;--",
    [], [1, 2], ["a"], {}, {"a": 1}, {"__class__": 1}, [[[]]], b"bytes", (1, 2), object(), 1j, {1, 2},
]
ALL_FIELDS = [
    spec("string", name="s", required=True, pattern=r"\w+"), spec("text", name="t", maxlength=50),
    spec("long", name="l", required=True, min=-5.0, max=5.0), spec("decimal", name="d", min=0.0),
    spec("boolean", name="b", required=True), spec("date", name="dt", min="2000-01-01"),
    spec("enum", name="e", options=(("a", "A"),)),
]


@pytest.mark.parametrize("junk", JUNK, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("partial", [False, True])
@pytest.mark.parametrize("html", [False, True])
def test_junk_values_never_raise(junk, partial, html):
    data = {f.name: junk for f in ALL_FIELDS}
    clean, errors = validate_submission(ALL_FIELDS, data, partial=partial, html=html)
    assert not set(clean) & set(errors)
    assert set(clean) | set(errors) <= {f.name for f in ALL_FIELDS}
    for message in errors.values():
        assert isinstance(message, str) and "Traceback" not in message and repr(junk)[:20] not in message
    for name, value in clean.items():
        assert value is None or type(value) is {"s": str, "t": str, "l": int, "d": float, "b": bool, "dt": str,
                                                 "e": str}[name]


def test_hypothesis_random_json_values_never_raise():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner,
                                                                                              max_size=3), max_leaves=8)

    @hypothesis.settings(max_examples=300, deadline=None, database=None)
    @hypothesis.given(st.dictionaries(st.sampled_from([f.name for f in ALL_FIELDS] + ["zz"]), values),
                      st.booleans(), st.booleans())
    def run(data, partial, html):
        clean, errors = validate_submission(ALL_FIELDS, data, partial=partial, html=html)
        assert not set(clean) & set(errors)
        assert all(isinstance(m, str) for m in errors.values())

    run()


# --- required_if and consequences --------------------------------------------------------------------------

def _conditional_specs():
    blocked = FieldSpec(name="payment_blocked", label="Paiement bloqué ?", type="enum",
                        options=(("yes", "Oui"), ("no", "Non")), required=True,
                        properties=(("consequence_yes", "Ce choix ouvre un litige."),))
    amount = FieldSpec(name="blocked_amount", label="Montant bloqué", type="decimal",
                       required_if=("payment_blocked", ("yes",)))
    return [blocked, amount]


def test_required_if_applies_only_for_the_named_values():
    specs = _conditional_specs()
    _clean, errors = validate_submission(specs, {"payment_blocked": "yes"})
    assert errors == {"blocked_amount": "Ce champ est obligatoire quand « Paiement bloqué ? » vaut « Oui »."}
    clean, errors = validate_submission(specs, {"payment_blocked": "no"})
    assert errors == {} and clean == {"payment_blocked": "no"}
    clean, errors = validate_submission(specs, {"payment_blocked": "yes", "blocked_amount": "1250,40"})
    assert errors == {} and clean["blocked_amount"] == 1250.4
    # a draft is partial: nothing is required yet
    assert validate_submission(specs, {"payment_blocked": "yes"}, partial=True)[1] == {}


def test_consequences_name_the_chosen_option_only():
    from app.forms.consequences import consequences

    specs = _conditional_specs()
    assert consequences(specs, {"payment_blocked": "yes"}) == [("payment_blocked=yes", "Ce choix ouvre un litige.")]
    assert consequences(specs, {"payment_blocked": "no"}) == []


def test_required_if_parsed_from_camunda():
    field = camunda("amount", type="decimal", validation=[("required_if", "blocked=yes,maybe")])
    assert from_camunda(field).required_if == ("blocked", ("yes", "maybe"))
    with pytest.raises(FormDefinitionError, match="required_if attend"):
        from_camunda(camunda("amount", type="decimal", validation=[("required_if", "blocked")]))
    with pytest.raises(FormDefinitionError, match="absent de ce formulaire"):
        fields_from_camunda([field])
