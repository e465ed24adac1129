"""Dataflow checks at deploy: a condition, script or handler property must read only variables that a step
before it can have written (start form, user task forms, script assignments, handler outputs, message
payloads, decision results, system keys); otherwise the case would fall into an incident when it got there.

"Can have written" is a may-analysis over the paths that reach the element (backwards along sequence flows,
out of and into subprocesses, through loops): a variable written on one branch only is accepted.
"""

from __future__ import annotations

import ast

from app.engine.bpmn_xml import Element
from app.engine.script_safety import names_used

# Keys every case has from its start (lifecycle.create_case) and what the handlers write into the data.
SYSTEM_VARIABLES = frozenset({"received_at"})
HANDLER_WRITES = {"set_status": {"status", "closed_at"}, "send_message": {"last_message"},
                  "open_dispute": {"dispute_reference"}}
DEADLINE_HANDLER = "set_deadline"


def written_by(el: Element) -> set[str]:
    """The data variables one element writes."""
    found = {f.id for f in el.form if f.id}
    if el.topic == DEADLINE_HANDLER:
        found.add(el.properties.get("variable") or "due_at")
        if el.properties.get("remind_before"):
            found.add(el.properties.get("remind_variable") or "remind_at")
    found |= HANDLER_WRITES.get(el.topic or "", set())
    found.update(el.decision_outputs)
    if el.result_variable:
        found.add(el.result_variable)
    if el.script:
        try:
            tree = ast.parse(el.script)
        except SyntaxError:
            return found
        found.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return found


def written(elements: dict[str, Element], only: set[str] | None = None) -> set[str]:
    """Data variables the elements (or only those ids) write."""
    found = set()
    for el in elements.values():
        if only is None or el.id in only:
            found |= written_by(el)
    return found


def before(el: Element, elements: dict[str, Element]) -> set[str]:
    """Ids of the elements that can run before el: backwards along flows, out of subprocesses, into them."""
    incoming: dict[str, list[str]] = {}
    for f in elements.values():
        if f.type == "sequenceFlow" and f.target:
            incoming.setdefault(f.target, []).append(f.source)
    seen: set[str] = set()
    # a boundary timer starts with its activity: what the activity itself writes comes later
    stack = [el.attached_to or el.id]
    while stack:
        node = elements.get(stack.pop())
        if node is None:
            continue
        preds = list(incoming.get(node.id, []))
        if not preds and node.parent:
            preds.append(node.parent)  # the first element of a subprocess runs after what precedes it
        if node.attached_to:
            preds.append(node.attached_to)
        for pred in preds:
            if pred not in seen:
                seen.add(pred)
                stack.append(pred)
    # a whole subprocess that ran before: its inner elements ran too
    inner = {e.id for e in elements.values() if _inside(e, seen, elements)}
    return seen | inner


def _inside(el: Element, containers: set[str], elements: dict[str, Element]) -> bool:
    parent = el.parent
    while parent:
        if parent in containers:
            return True
        parent = elements[parent].parent if parent in elements else None
    return False


def _reads(el: Element) -> list[tuple[str, set[str]]]:
    """(what is read, variable names) for the element's condition, script and handler properties."""
    found = []
    try:
        if el.type == "sequenceFlow" and el.condition:
            found.append((f"Condition « {el.condition} »", names_used(el.condition, "eval")))
        if el.script:
            found.append(("Script", names_used(el.script, "exec")))
    except (SyntaxError, ValueError):
        pass  # reported by the syntax checks
    if el.decision_reads:
        found.append((f"Table de décision « {el.decision_ref} »", set(el.decision_reads)))
    if el.topic == DEADLINE_HANDLER and el.properties.get("from"):
        found.append((f"Propriété « from » de « {el.topic} »", {el.properties["from"]}))
    return found


def problems(elements: dict[str, Element]) -> list[tuple[str, str, str, str]]:
    """(element id, label, French message, level) for each read of a variable no earlier step can have written.

    A decision table reads a missing variable as null (FEEL): a warning, not a refusal."""
    everywhere = written(elements) | SYSTEM_VARIABLES
    found = []
    for el in elements.values():
        reads = _reads(el)
        if not reads:
            continue
        start = elements.get(el.source) if el.type == "sequenceFlow" else el
        if start is None:
            continue
        ran = before(start, elements) | ({start.id} if start is not el else set())
        available = written(elements, ran) | SYSTEM_VARIABLES
        for what, names in reads:
            missing = sorted(names - everywhere)
            late = sorted((names & everywhere) - available)
            decision = el.type == "businessRuleTask"
            outcome = "elle(s) vaudrai(en)t null" if decision else "le dossier s'arrêterait en incident en arrivant ici"
            level = "warning" if decision else "error"
            if missing:
                found.append((el.id, el.label, f"{what} : variable(s) qu'aucune étape n'écrit : {', '.join(missing)} ; "
                              f"{outcome} (ajoutez un champ de formulaire ou une affectation de script qui "
                              "l'écrit).", level))
            elif late and not decision:
                found.append((el.id, el.label, f"{what} : variable(s) écrite(s) seulement après cet élément : "
                              f"{', '.join(late)} ; {outcome}.", level))
    return found
