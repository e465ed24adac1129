"""Decision tables (DMN 1.1-1.3 as saved by Camunda Modeler and dmn-js), run by SpiffWorkflow's DMN engine.

A DMN document is read safely (no DTD, no entities), then its cells are rewritten into the engine's
expression language, as camunda_compat does for BPMN conditions:
- input entries (FEEL unary tests): `"billing"`, `5`, `true`, `< 10`, `>= 2.5`, `[1..5]`, `]1..5[`,
  `"a","b"` (any of), `not("a")`, `null`, `-` (any value); anything else is refused naming the rule;
- output entries: string and number literals, true/false/null, or a variable name;
- input expressions: a variable name or a simple Python expression (checked like conditions).
Hit policies run as Camunda runs them: UNIQUE, FIRST, ANY (the first match), COLLECT without aggregation
(a list per output); PRIORITY, RULE ORDER, OUTPUT ORDER and COLLECT with an aggregator are refused.
A variable an input reads that the case does not have is null, as in FEEL (no incident).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from app.engine.errors import MAX_BPMN_BYTES, DefinitionError
from app.engine.script_safety import check_source, names_used

DMN_NAMESPACES = ("http://www.omg.org/spec/DMN/20151101/dmn.xsd", "http://www.omg.org/spec/DMN/20180521/MODEL/",
                  "https://www.omg.org/spec/DMN/20191111/MODEL/")
SUPPORTED_HIT_POLICIES = ("UNIQUE", "FIRST", "ANY", "COLLECT")
_NUMBER = r"-?\d+(?:\.\d+)?"
_STRING = r'"(?:[^"\\]|\\.)*"'
_LITERAL = re.compile(rf"\s*(?:{_NUMBER}|{_STRING}|true|false|null)\s*")
_COMPARISON = re.compile(rf"\s*(<=|>=|<|>)\s*({_NUMBER}|{_STRING})\s*")
_RANGE = re.compile(rf"\s*([\[\]])\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*([\[\]])\s*")
_NOT = re.compile(r"\s*not\s*\((.*)\)\s*", re.DOTALL)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass
class Decision:
    """What validation and comparison need to know about one decision table."""

    id: str
    name: str
    hit_policy: str
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (label, expression)
    outputs: list[str] = field(default_factory=list)  # output variable names
    rules: list[dict] = field(default_factory=list)  # {"id", "inputs": [...], "outputs": [...]} as written
    problems: list[tuple[str | None, str]] = field(default_factory=list)


def parse_dmn(xml: str | bytes) -> etree._Element:
    """Parse a DMN document safely; raise DefinitionError if hostile, malformed or not DMN."""
    from app.engine import messages_fr

    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(raw) > MAX_BPMN_BYTES:
        raise DefinitionError([(None, f"Fichier trop volumineux (plus de {MAX_BPMN_BYTES // 1024} Kio).")])
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise DefinitionError([(None, "Les déclarations DOCTYPE et ENTITY sont refusées.")])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError([(None, f"XML mal formé : {messages_fr.lxml(exc)}.")]) from None
    qname = etree.QName(root.tag)
    if qname.localname != "definitions" or qname.namespace not in DMN_NAMESPACES:
        raise DefinitionError([(None, "Ce n'est pas un document DMN (élément racine dmn:definitions).")])
    return root


def decision_ids(xml: str | bytes) -> list[str]:
    """The ids of the decisions of a DMN document (DefinitionError if it is not one)."""
    root = parse_dmn(xml)
    return [d.get("id") for d in root.iter(_q(root, "decision")) if d.get("id")]


def _q(root, name: str) -> str:
    return f"{{{etree.QName(root.tag).namespace}}}{name}"


def _text(node, root) -> str:
    found = node.find(_q(root, "text"))
    return (found.text or "").strip() if found is not None else ""


def feel_test(text: str) -> str | None:
    """The engine's test for a FEEL unary test cell (None: any value); ValueError if not translated."""
    text = (text or "").strip()
    if text in ("", "-"):
        return None
    negated = _NOT.fullmatch(text)
    if negated:
        inner = feel_test(negated.group(1))
        return None if inner is None else f"not ({inner})"
    parts = _split_top(text)
    if len(parts) > 1:
        return " or ".join(f"({feel_test(p)})" for p in parts)
    if _LITERAL.fullmatch(text):
        return f"? == {_literal(text)}"
    match = _COMPARISON.fullmatch(text)
    if match:
        return f"? {match.group(1)} {_literal(match.group(2))}"
    match = _RANGE.fullmatch(text)
    if match:
        low = ">=" if match.group(1) == "[" else ">"
        high = "<=" if match.group(4) == "]" else "<"
        return f"? {low} {match.group(2)} and ? {high} {match.group(3)}"
    raise ValueError(f"test « {text} » non pris en charge (valeurs, < <= > >=, [a..b], listes, not(...))")


def feel_output(text: str) -> str:
    """The engine's expression for an output cell; ValueError if not translated."""
    text = (text or "").strip()
    if not text:
        return "None"
    if _LITERAL.fullmatch(text):
        return _literal(text)
    if _NAME.fullmatch(text):
        return text
    raise ValueError(f"sortie « {text} » non prise en charge (une valeur ou un nom de variable)")


def _literal(text: str) -> str:
    text = text.strip()
    return {"true": "True", "false": "False", "null": "None"}.get(text, text)


def _split_top(text: str) -> list[str]:
    """Split a FEEL list of tests on commas outside strings and brackets."""
    parts, depth, quoted, current = [], 0, False, ""
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == "," and not quoted and depth <= 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def read(root) -> list[Decision]:
    """Read (and rewrite in place for the engine) the decisions of a DMN document."""
    decisions = []
    for node in root.iter(_q(root, "decision")):
        decision = Decision(id=node.get("id") or "", name=node.get("name") or node.get("id") or "", hit_policy="")
        decisions.append(decision)
        tables = node.findall(_q(root, "decisionTable"))
        if len(tables) != 1:
            decision.problems.append((decision.id, "Décision sans table de décision (les expressions littérales "
                                      "et les exigences ne sont pas exécutées)."))
            continue
        table = tables[0]
        decision.hit_policy = (table.get("hitPolicy") or "UNIQUE").upper()
        if decision.hit_policy not in SUPPORTED_HIT_POLICIES:
            decision.problems.append((decision.id, f"Politique de résultat « {decision.hit_policy} » non prise en "
                                      f"charge ({', '.join(SUPPORTED_HIT_POLICIES)})."))
        if table.get("aggregation"):
            decision.problems.append((decision.id, f"Agrégation « {table.get('aggregation')} » de la politique "
                                      "COLLECT non prise en charge."))
        for inp in table.findall(_q(root, "input")):
            expression_node = inp.find(_q(root, "inputExpression"))
            expression = _text(expression_node, root) if expression_node is not None else ""
            label = inp.get("label") or expression
            decision.inputs.append((label, expression))
            if not expression:
                decision.problems.append((decision.id, f"Entrée « {label} » sans expression."))
                continue
            for message in check_source(expression, "eval"):
                decision.problems.append((decision.id, f"Entrée « {label} » : {message}"))
        for out in table.findall(_q(root, "output")):
            name = out.get("name") or ""
            decision.outputs.append(name)
            if not _NAME.fullmatch(name):
                decision.problems.append((decision.id, f"Sortie « {out.get('label') or name} » sans nom de variable "
                                          "valide (attribut name)."))
        for number, rule in enumerate(table.findall(_q(root, "rule")), start=1):
            written = {"id": rule.get("id"), "inputs": [], "outputs": []}
            decision.rules.append(written)
            for kind, translate in (("inputEntry", feel_test), ("outputEntry", feel_output)):
                for cell in rule.findall(_q(root, kind)):
                    text = _text(cell, root)
                    written["inputs" if kind == "inputEntry" else "outputs"].append(text)
                    try:
                        engine_text = translate(text)
                    except ValueError as exc:
                        decision.problems.append((decision.id, f"Règle {number} : {exc}."))
                        engine_text = "False" if kind == "inputEntry" else "None"
                    target = cell.find(_q(root, "text"))
                    if target is None:
                        target = etree.SubElement(cell, _q(root, "text"))
                    target.text = "-" if engine_text is None else engine_text
    return decisions


class FeelNullEngine(DMNEngine):
    """SpiffWorkflow's DMN engine with FEEL's rule for unknown variables: an input reading a variable the case
    does not have gets null (None) instead of failing the step."""

    def evaluate(self, input_expr, match_expr, task):
        if match_expr is None:
            return True
        missing = {}
        try:
            missing = {name: None for name in names_used(input_expr) if name not in task.data}
        except (SyntaxError, ValueError):
            pass
        if missing:
            value = task.workflow.script_engine.evaluate(task, input_expr, external_context=missing)
            return super().evaluate(repr(value), match_expr, task)
        return super().evaluate(input_expr, match_expr, task)
