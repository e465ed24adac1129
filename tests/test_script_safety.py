"""Tests for app.engine.script_safety: escapes refused, business expressions accepted."""

import builtins

import pytest

from app.engine.script_safety import (
    FORBIDDEN_NAMES,
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    SAFE_BUILTINS,
    check_source,
    names_used,
)

ESCAPES_EVAL = [
    "().__class__.__base__.__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "__import__('os')",
    "__import__('os').system('id')",
    "getattr(x, '__globals__')",
    "getattr(x, 'gi_frame')",
    "[c for c in ().__class__.__bases__]",
    'f"{x.__class__}"',
    'f"{x:{y.__class__}}"',
    "exec('1')",
    "eval('1')",
    "compile('1', 'f', 'exec')",
    "open('/etc/passwd').read()",
    "type(x)",
    "type(x).__subclasses__(x)",
    '"{0.__class__}".format(x)',
    '"{0.__class__}".format_map(x)',
    "str.format('{0.__class__}', x)",
    "'{x}'.format",
    "x.gi_frame",
    "x.gi_frame.f_back.f_globals",
    "x.f_globals",
    "x.f_builtins",
    "x.co_code",
    "x.tb_frame",
    "x.cr_frame",
    "x.ag_frame",
    "x.mro()",
    "int.mro()",
    "(i for i in []).gi_frame.f_back",
    "globals()",
    "locals()['x']",
    "vars(x)",
    "setattr(x, 'a', 1)",
    "delattr(x, 'a')",
    "breakpoint()",
    "input()",
    "help()",
    "memoryview(b'')",
    "object.__subclasses__()",
    "super()",
    "classmethod(len)",
    "staticmethod(len)",
    "property(len)",
    "dir()",
    "print(x)",
    "format(x, 's')",
    "x._private",
    "_secret",
    "__builtins__",
    "__builtins__['open']",
    "x.__dict__",
    "x.__self__",
    "len.__self__",
    "(lambda: 0).__globals__",
    "(lambda _x: _x)(1)",
    "dict(__class__=1)",
    "[x async for x in y]",
    "ValueError",
    "Exception('x')",
    "(g := getattr)",
    "[getattr for _ in [1]][0](x, 'y')",
]

ESCAPES_EXEC = [
    "import os",
    "import os as system",
    "from os import system",
    "from . import x",
    "global x\nx = 1",
    "def f():\n    nonlocal x",
    "def f():\n    return 1",
    "class A:\n    pass",
    "with open('f') as fh:\n    pass",
    "try:\n    x = 1\nexcept Exception:\n    pass",
    "try:\n    x = 1\nfinally:\n    pass",
    "raise ValueError('x')",
    "async def f():\n    await x",
    "def f():\n    yield 1",
    "match x:\n    case str(__class__=c):\n        pass",
    "f = getattr\ny = f(x, '__class__')",
    "getattr = len\ny = getattr(x)",
    "exec = 1",
    "x.__class__ = int",
    "del x.__dict__",
    "total = 1\nfor item in items:\n    total += item.__sizeof__()",
    "x = ().__class__",
]

SAFE_EVAL = [
    'kind == "complaint"',
    'admissible and severity in ("high", "critical")',
    "due_at",
    '"P30D"',
    "amount > 1000 or not written",
    "len(invoice_refs) > 0",
    "len([r for r in refs if r]) >= 2",
    "sorted(items, key=lambda item: item['rank'])[0]",
    "any(line['amount'] > 100 for line in lines)",
    "{k: v for k, v in data.items() if v is not None}",
    "customer.get('email', '').lower().endswith('.fr')",
    "round(sum(amounts) * 1.2, 2)",
    "isinstance(amount, (int, float)) and abs(amount) <= max(limit, 0)",
    "f\"Dossier {reference} : {amount:.2f} €\"",
    "'%s-%s' % (year, number)",
    "x if x is not None else None",
    "list(range(3)) + [True, False, None]",
    "dict(zip(keys, values))",
    "tuple(enumerate(items))",
    "set(tags) & {'urgent'}",
    "str(int(float('1.5')))",
    "bool(all(checks))",
    "min(a, b)",
    "_ == 1",
    "data['__class__']",
    "'__class__' in text",
    "(n := len(items)) > 2",
]

SAFE_EXEC = [
    "x = 1",
    "total = sum(line['amount'] for line in lines)\nvat = round(total * 0.2, 2)\nto_pay = total + vat",
    "if amount > 1000:\n    level = 'high'\nelif amount > 100:\n    level = 'medium'\nelse:\n    level = 'low'",
    "count = 0\nfor item in items:\n    if item:\n        count += 1\nwhile count > 10:\n    count -= 1",
    "refs = [r.strip() for r in raw_refs.split(',') if r.strip()]\ndel raw_refs",
    "assert amount >= 0",
    "print = 3\nresult = print + 1",
    "for _ in range(3):\n    pass",
    "a, b = b, a\nitems[0] = a\ncase['status'] = 'closed'",
    "label: str = 'x'",
]


@pytest.mark.parametrize("source", ESCAPES_EVAL)
def test_eval_escapes_are_refused(source):
    messages = check_source(source, "eval")
    assert messages and all(m.startswith("Ligne ") for m in messages)


@pytest.mark.parametrize("source", ESCAPES_EXEC)
def test_exec_escapes_are_refused(source):
    assert check_source(source, "exec")


@pytest.mark.parametrize("source", SAFE_EVAL)
def test_business_conditions_pass(source):
    assert check_source(source, "eval") == []


@pytest.mark.parametrize("source", SAFE_EVAL + SAFE_EXEC)
def test_business_scripts_pass(source):
    assert check_source(source, "exec") == []


def test_statements_are_a_syntax_error_in_eval_mode():
    assert check_source("x = 1", "eval") == ["Ligne 1 : erreur de syntaxe (invalid syntax)."]


def test_syntax_error_reports_the_line():
    messages = check_source("x = 1\ny = (\nz = 3", "exec")
    assert len(messages) == 1 and "erreur de syntaxe" in messages[0] and messages[0].startswith("Ligne 2")


@pytest.mark.parametrize("source", ["", "   ", "a\x00b", "1 +", "if x"])
def test_invalid_sources_give_messages(source):
    assert check_source(source, "eval")


def test_messages_name_the_line_and_the_culprit():
    messages = check_source("a = 1\nb = x.__class__\nimport os", "exec")
    assert messages == ["Ligne 2 : attribut « __class__ » interdit.", "Ligne 3 : import interdit."]


def test_one_message_per_problem():
    assert check_source("().__class__.__base__", "eval") == [
        "Ligne 1 : attribut « __base__ » interdit.", "Ligne 1 : attribut « __class__ » interdit."]


def test_non_string_source_and_bad_mode():
    assert check_source(None) == ["Le code doit être un texte."]
    assert check_source(b"1") == ["Le code doit être un texte."]
    with pytest.raises(ValueError):
        check_source("1", "single")
    with pytest.raises(ValueError):
        names_used("1", "single")


def test_size_and_depth_limits():
    assert "trop long" in check_source("1" + " " * MAX_SOURCE_LENGTH)[0]
    assert "trop complexe" in check_source("1" + "+1" * 2000)[0].lower()
    assert "trop complexe" in check_source("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))[0].lower()
    assert check_source("1" + "+1" * 50) == []


def test_safe_builtins_are_exactly_the_small_set():
    assert set(SAFE_BUILTINS) == {
        "len", "min", "max", "abs", "round", "sum", "any", "all", "sorted", "str", "int", "float", "bool",
        "list", "dict", "set", "tuple", "range", "enumerate", "zip", "isinstance"}
    assert all(SAFE_BUILTINS[name] is getattr(builtins, name) for name in SAFE_BUILTINS)
    assert not set(SAFE_BUILTINS) & FORBIDDEN_NAMES


@pytest.mark.parametrize("source", SAFE_EVAL)
def test_safe_conditions_compile_and_run_with_safe_builtins(source):
    # Every accepted condition must at least compile; the simple ones run with only SAFE_BUILTINS.
    code = compile(source, "<condition>", "eval")
    data = {"kind": "complaint", "admissible": "yes", "severity": "high", "due_at": "2026-01-01",
            "amount": 12.5, "written": "no", "invoice_refs": ["F1"]}
    if names_used(source) <= set(data):
        eval(code, {"__builtins__": SAFE_BUILTINS, **data})


def test_refused_code_really_fails_at_run_time_too():
    # Defence in depth: with SAFE_BUILTINS only, the forbidden builtins are not even reachable.
    with pytest.raises(NameError):
        eval("open('/etc/passwd')", {"__builtins__": SAFE_BUILTINS})


@pytest.mark.parametrize("source, mode, expected", [
    ('kind == "complaint"', "eval", {"kind"}),
    ('admissible and severity in ("high", "critical")', "eval", {"admissible", "severity"}),
    ('"P30D"', "eval", set()),
    ("len(invoice_refs) > 0", "eval", {"invoice_refs"}),
    ("amount > 1000 or not written", "eval", {"amount", "written"}),
    ("[r for r in refs if r != skip]", "eval", {"refs", "skip"}),
    ("[a for a in xs for b in a if b > limit]", "eval", {"xs", "limit"}),
    ("{k: v for k, v in pairs}", "eval", {"pairs"}),
    ("sorted(items, key=lambda i: i[field])", "eval", {"items", "field"}),
    ("(lambda a, *b, c=default, **d: a + c)(1)", "eval", {"default"}),
    ("(n := len(items)) > n_max", "eval", {"items", "n_max"}),
    ("[y := v for v in values] and y", "eval", {"values"}),
    ("customer.email.lower()", "eval", {"customer"}),
    ("f'{reference}-{year:{width}}'", "eval", {"reference", "year", "width"}),
    ("total = amount + fee\nok = total > limit", "exec", {"amount", "fee", "limit"}),
    ("x = x + 1", "exec", {"x"}),
    ("count += 1", "exec", {"count"}),
    ("for line in lines:\n    total = line + base", "exec", {"lines", "base"}),
    ("a, b = pair\nc = a + b", "exec", {"pair"}),
    ("label: str = name", "exec", {"name"}),
    ("del tmp", "exec", set()),
    ("data['k'] = v", "exec", {"data", "v"}),
    ("print = 1\ny = print", "exec", set()),
])
def test_names_used(source, mode, expected):
    assert names_used(source, mode) == expected


def test_names_used_rejects_invalid_code():
    with pytest.raises(SyntaxError):
        names_used("x ==")
    with pytest.raises(ValueError):
        names_used("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
