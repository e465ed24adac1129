"""Dataflow checks at deploy, in one linear pass: which variables can be written before each element runs.

A condition, script or handler property must read only variables that a step before it can have written (start
form, user task forms, script assignments, handler outputs, message payloads, decision results, system keys);
otherwise the case would fall into an incident when it got there. "Can have written" is a may-analysis over the
paths that reach the element (backwards along sequence flows, out of and into subprocesses, through loops): a
variable written on one branch only is accepted.

Cost: every element's writes are read once and the sets propagated along the flows once, strongly connected
components (loops) merged (Tarjan), variables held as bits of one integer: O(elements + flows) set unions.
(Walking backwards from each reading element was O(elements²): a 2,000-element upload took seconds.)
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
        except (SyntaxError, ValueError, RecursionError, MemoryError):
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


def _reads(el: Element) -> list[tuple[str, set[str]]]:
    """(what is read, variable names) for the element's condition, script and handler properties."""
    found = []
    try:
        if el.type == "sequenceFlow" and el.condition:
            found.append((f"Condition « {el.condition} »", names_used(el.condition, "eval")))
        if el.script:
            found.append(("Script", names_used(el.script, "exec")))
    except (SyntaxError, ValueError, RecursionError):
        pass  # reported by the syntax checks
    if el.decision_reads:
        found.append((f"Table de décision « {el.decision_ref} »", set(el.decision_reads)))
    if el.topic == DEADLINE_HANDLER and el.properties.get("from"):
        found.append((f"Propriété « from » de « {el.topic} »", {el.properties["from"]}))
    return found


def problems(elements: dict[str, Element], flow: Dataflow | None = None) -> list[tuple[str, str, str, str]]:
    """(element id, label, French message, level) for each read of a variable no earlier step can have written.

    A decision table reads a missing variable as null (FEEL): a warning, not a refusal."""
    everywhere = written(elements) | SYSTEM_VARIABLES
    flow = flow or Dataflow(elements)
    found = []
    for el in elements.values():
        reads = _reads(el)
        if not reads:
            continue
        start = elements.get(el.source) if el.type == "sequenceFlow" else el
        if start is None:
            continue
        earlier = flow.written_before(start)
        own = written_by(start) if start is not el else set()  # a flow's source has run when its condition is read
        for what, names in reads:
            missing = sorted(names - everywhere)
            late = sorted(n for n in names & everywhere
                          if n not in earlier and n not in own and n not in SYSTEM_VARIABLES)
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


class Dataflow:
    """The variables written anywhere, and those written before each element (see the module docstring)."""

    def __init__(self, elements: dict[str, Element]):
        self.elements = elements
        writes = {el.id: written_by(el) for el in elements.values()}
        self.written = set().union(*writes.values()) if writes else set()
        self._names = sorted(self.written)
        self._bit = bit = {name: 1 << index for index, name in enumerate(self._names)}
        own = {key: sum(bit[n] for n in names) for key, names in writes.items()}
        # a subprocess counts with everything inside it (deepest first, so that nesting adds up)
        total = dict(own)
        for el in sorted(elements.values(), key=lambda e: -self._depth(e)):
            if el.parent in total:
                total[el.parent] |= total[el.id]
        self._total = total
        self._preds = self._predecessors()
        self._before = self._propagate()

    def _depth(self, el: Element) -> int:
        depth, parent, seen = 0, el.parent, set()
        while parent in self.elements and parent not in seen:
            seen.add(parent)
            depth, parent = depth + 1, self.elements[parent].parent
        return depth

    def _predecessors(self) -> dict[str, list[str]]:
        incoming: dict[str, list[str]] = {}
        for f in self.elements.values():
            if f.type == "sequenceFlow" and f.target and f.source in self.elements:
                incoming.setdefault(f.target, []).append(f.source)
        preds = {}
        for el in self.elements.values():
            found = list(incoming.get(el.id, []))
            if not found and el.parent in self.elements:
                found.append(el.parent)
            if el.attached_to in self.elements:
                found.append(el.attached_to)
            preds[el.id] = found
        return preds

    def _components(self) -> list[list[str]]:
        """Strongly connected components along the flows, sources first (iterative Tarjan)."""
        succs: dict[str, list[str]] = {key: [] for key in self._preds}
        for key, preds in self._preds.items():
            for pred in preds:
                succs[pred].append(key)
        index, low, on_stack, stack, order = {}, {}, set(), [], []
        counter = 0
        for root in succs:
            if root in index:
                continue
            work = [(root, iter(succs[root]))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                node, children = work[-1]
                advanced = False
                for child in children:
                    if child not in index:
                        index[child] = low[child] = counter
                        counter += 1
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(succs[child])))
                        advanced = True
                        break
                    if child in on_stack:
                        low[node] = min(low[node], index[child])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    order.append(component)
        order.reverse()  # Tarjan emits sinks first
        return order

    def _propagate(self) -> dict[str, int]:
        before: dict[str, int] = {}
        for component in self._components():
            members = set(component)
            bits = 0
            for key in component:
                for pred in self._preds[key]:
                    if pred not in members:
                        bits |= self._total[pred] | before[pred]
            if len(component) > 1 or component[0] in self._preds[component[0]]:  # a loop: each runs before itself
                for key in component:
                    bits |= self._total[key]
            for key in component:
                before[key] = bits
        return before

    def written_before(self, el: Element) -> VariableSet:
        """Variables written by what can run before el (a boundary event: before its activity)."""
        return VariableSet(self._before.get(el.attached_to or el.id, 0), self._bit)


class VariableSet:
    """A set of variable names held as bits: `name in variables` costs the same whatever the process size."""

    def __init__(self, bits: int, index: dict[str, int]):
        self._bits, self._index = bits, index

    def __contains__(self, name: str) -> bool:
        bit = self._index.get(name)
        return bit is not None and bool(self._bits & bit)
