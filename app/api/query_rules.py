"""The query parameters of every API operation are checked against app/api/openapi.json before the view runs.

The document is the one source of truth: a parameter it does not declare, a value of the wrong type, out of
its minimum/maximum, outside its enum, an empty or malformed date, or a repeated scalar is refused with 422
and a French message naming the parameter. So the server accepts exactly what the document allows (what
schemathesis checks), and a typo (`per-page=10`) is reported instead of silently ignored.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from flask import request

from app.services.core.errors import Invalid

OPENAPI = Path(__file__).with_name("openapi.json")
_RULE_PART = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_INTEGER = re.compile(r"-?\d{1,19}")


@lru_cache(maxsize=1)
def declared() -> dict[tuple[str, str], dict[str, dict]]:
    """(OpenAPI path, METHOD) -> {query parameter name: its schema (with `required`)}."""
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    found = {}
    for path, item in document["paths"].items():
        shared = [p for p in item.get("parameters", []) if p.get("in") == "query"]
        for method, operation in item.items():
            if method == "parameters":
                continue
            params = shared + [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            found[(path, method.upper())] = {p["name"]: {**p.get("schema", {}), "required": p.get("required", False)}
                                             for p in params}
    return found


def openapi_path(rule: str) -> str:
    """/api/cases/<reference> -> /api/cases/{reference}."""
    return _RULE_PART.sub(r"{\1}", rule)


def _problem(schema: dict, raw: str) -> str | None:
    kind = schema.get("type", "string")
    if kind == "integer":
        if not _INTEGER.fullmatch(raw):
            return "Nombre entier attendu."
        value = int(raw)
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = " et ".join(x for x in (f"au moins {low}" if low is not None else "",
                                             f"au plus {high}" if high is not None else "") if x)
            return f"Nombre entier attendu ({bounds})."
        return None
    if "enum" in schema and raw not in schema["enum"]:
        return "Valeur attendue parmi : " + ", ".join(map(str, schema["enum"])) + "."
    if schema.get("format") == "date":
        try:
            date.fromisoformat(raw)
        except ValueError:
            return "Date attendue au format AAAA-MM-JJ."
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return "Date attendue au format AAAA-MM-JJ."
    if len(raw) < schema.get("minLength", 0):
        return "Valeur vide." if not raw else f"{schema['minLength']} caractères au moins."
    if "maxLength" in schema and len(raw) > schema["maxLength"]:
        return f"{schema['maxLength']} caractères au maximum."
    return None


def check_query() -> None:
    """Before every API request: refuse query parameters the document does not allow (Invalid, 422)."""
    if request.url_rule is None:
        return
    params = declared().get((openapi_path(request.url_rule.rule), request.method))
    if params is None:
        return  # HEAD, OPTIONS and the document itself
    errors = {}
    for name in request.args:
        values = request.args.getlist(name)
        schema = params.get(name)
        if schema is None:
            errors[name] = "Paramètre inconnu."
        elif len(values) > 1 and schema.get("type") != "array":
            errors[name] = "Une seule valeur attendue."
        elif (problem := _problem(schema, values[0])) is not None:
            errors[name] = problem
    for name, schema in params.items():
        if schema.get("required") and name not in request.args:
            errors[name] = "Paramètre obligatoire."
    if errors:
        raise Invalid(errors, "Paramètres invalides : " + "; ".join(f"{k} : {v}" for k, v in errors.items()))
