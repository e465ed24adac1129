"""Checks a BPMN document must pass before it is deployed; every problem names its element (id and label).

On top of engine.parse_definition (hostile XML, unparsable BPMN, unsafe expressions), the document is read
element by element with lxml, so that a diagram the engine cannot parse still gets precise messages.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from datetime import datetime

from app.engine import DefinitionError, bpmn_xml, executable_process_ids, parse_definition, parse_xml
from app.engine.bpmn_xml import TYPE_LABELS, Element
from app.engine.script_safety import check_source, names_used
from app.forms.fields import FormDefinitionError, fields_from_camunda, from_camunda
from app.services.core import deadline_rules, handlers
from app.services.people.users import KNOWN_GROUPS

_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(?:[.,]\d+)?S)?)?", re.ASCII)
# Elements SpiffWorkflow cannot run in this application, with the reason shown to the process owner.
UNSUPPORTED = {
    "businessRuleTask": "tâche de règle métier (DMN) : les tables de décision ne sont pas prises en charge",
    "dataStoreReference": "magasin de données sans implémentation dans le moteur",
    "complexGateway": "passerelle complexe non prise en charge par le moteur",
    "adHocSubProcess": "sous-processus ad hoc non pris en charge par le moteur",
    "task": "tâche sans type (ni utilisateur, ni service, ni script) : le moteur la passerait sans rien faire",
}
DEADLINE_HANDLER = "set_deadline"


@dataclass(frozen=True)
class Problem:
    """One reason a document cannot be deployed."""

    element: str | None
    label: str | None
    message: str

    def to_json(self) -> dict:
        return asdict(self)


def validate(xml: str | bytes, key: str | None = None) -> tuple[str | None, list[Problem]]:
    """Check a document; return (the process key checked, problems); no problem means it can be deployed."""
    try:
        root = parse_xml(xml)
    except DefinitionError as exc:
        return None, [Problem(e, None, m) for e, m in exc.problems]
    labels = bpmn_xml.labels(root)
    keys = executable_process_ids(root)
    if key is None:
        key = keys[0] if keys else None
    if key is None:
        names = bpmn_xml.process_names(root)
        found = [Problem(pid, name, "Processus non exécutable (isExecutable=\"true\" absent) : le moteur ne "
                         "l'exécutera pas.") for pid, name in names.items()]
        return None, found or [Problem(None, None, "Aucun processus dans ce document.")]
    if key not in keys:
        return key, [Problem(key, labels.get(key), "Processus exécutable introuvable dans ce document.")]

    elements = bpmn_xml.elements(root, key)
    problems = _element_problems(elements)
    unsupported = any(el.type in UNSUPPORTED for el in elements.values())
    try:
        parse_definition(xml, key)
    except DefinitionError as exc:
        for element, message in exc.problems:
            if unsupported and element is None:
                continue  # the engine's crash on an unsupported element: already named above
            problems.append(Problem(element or key, labels.get(element or key), _readable(message)))
    except Exception as exc:  # noqa: BLE001 - never a server error on a foreign diagram: name the process
        if not unsupported:
            problems.append(Problem(key, labels.get(key),
                                    f"Le moteur ne peut pas lire ce processus ({type(exc).__name__})."))
    return key, _unique(problems)


def _readable(message: str) -> str:
    """Turn the engine's raw crash text (a KeyError repr) into a sentence."""
    match = re.search(r"KeyError\('(?:\{[^}]*\})?([^']*)'\)", message)
    if match:
        return (f"Le moteur ne peut pas lire ce processus : l'attribut ou l'élément « {match.group(1)} » "
                "attendu est absent.")
    return re.sub(r"\b[A-Z][A-Za-z]*Error\((.*)\)$", r"\1", message)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, result = set(), []
    for p in problems:
        if (p.element, p.message) not in seen:
            seen.add((p.element, p.message))
            result.append(p)
    return result


def _element_problems(elements: dict[str, Element]) -> list[Problem]:
    problems: list[Problem] = []
    written = _written_variables(elements)
    for el in elements.values():
        def add(message: str, el=el) -> None:
            problems.append(Problem(el.id, el.label, message))

        if el.type in UNSUPPORTED:
            reason = UNSUPPORTED[el.type]
            add(f"{reason[0].upper()}{reason[1:]}.")
        if el.type == "userTask":
            if not el.lane:
                add("Tâche utilisateur hors couloir : placez-la dans le couloir du groupe qui doit la traiter.")
            elif el.lane not in KNOWN_GROUPS:
                add(f"Couloir « {el.lane} » : aucun groupe de ce nom ({', '.join(KNOWN_GROUPS)}).")
        field_problems = []
        for f in el.form:
            try:
                from_camunda(f)
            except FormDefinitionError as exc:
                field_problems.append(str(exc))
        if not field_problems:
            try:  # what involves several fields: duplicates, required_if naming another field
                fields_from_camunda(el.form)
            except FormDefinitionError as exc:
                field_problems.append(str(exc))
        for message in field_problems:
            add(message)
        if el.type == "sequenceFlow" and el.condition:
            problems.extend(Problem(el.id, el.label, f"Condition « {el.condition} » : {m}")
                            for m in check_source(el.condition, "eval"))
        if el.script:
            problems.extend(Problem(el.id, el.label, f"Script : {m}") for m in check_source(el.script, "exec"))
        if el.type == "exclusiveGateway":
            problems.extend(_gateway_problems(el, elements))
        if el.timer is not None:
            message = _timer_problem(el.timer, written, _written_variables(elements, _before(el, elements)))
            if message:
                add(message)
        if el.type == "serviceTask":
            if not el.topic:
                add("Tâche de service sans nom de gestionnaire (camunda:topic).")
            elif not handlers.known(el.topic):
                add(f"Tâche de service « {el.topic} » : aucun gestionnaire enregistré sous ce nom "
                    f"({', '.join(sorted(handlers.HANDLERS))}).")
            else:
                problems.extend(Problem(el.id, el.label, f"Propriétés de « {el.topic} » : {m}")
                                for m in deadline_rules.check_properties(el.topic, el.properties))
    return problems


def _gateway_problems(gw: Element, elements: dict[str, Element]) -> list[Problem]:
    outgoing = [elements[f] for f in gw.outgoing if f in elements]
    problems = []
    if not outgoing:
        return [Problem(gw.id, gw.label, "Passerelle exclusive sans flux sortant.")]
    if gw.default is None:
        conditions = [f for f in outgoing if f.condition]
        problems.append(Problem(gw.id, gw.label, (
            f"Passerelle exclusive sans flux par défaut : si aucune de ses {len(conditions)} condition(s) n'est "
            "vraie, le dossier s'arrête en incident. Marquez un flux sortant comme flux par défaut.")
            if conditions else "Passerelle exclusive sans flux par défaut : marquez son flux sortant comme flux "
            "par défaut (un flux sans condition n'est pris que s'il est le flux par défaut)."))
    elif gw.default not in gw.outgoing:
        problems.append(Problem(gw.id, gw.label,
                                f"Le flux par défaut « {gw.default} » ne sort pas de cette passerelle."))
    for f in outgoing:
        if not f.condition and f.id != gw.default and gw.default is not None:
            problems.append(Problem(f.id, f.label, f"Flux sans condition sortant de la passerelle « {gw.label} » "
                                    "et qui n'est pas le flux par défaut."))
    return problems


def _written_variables(elements: dict[str, Element], only: set[str] | None = None) -> set[str]:
    """Data variables the elements (or only those ids) write: form fields, set_deadline targets, scripts."""
    written = set()
    for el in elements.values():
        if only is not None and el.id not in only:
            continue
        written.update(f.id for f in el.form if f.id)
        if el.topic == DEADLINE_HANDLER:
            written.add(el.properties.get("variable") or "due_at")
            if el.properties.get("remind_before"):
                written.add(el.properties.get("remind_variable") or "remind_at")
        if el.script:
            try:
                tree = ast.parse(el.script)
            except SyntaxError:
                continue
            written.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return written


def _before(el: Element, elements: dict[str, Element]) -> set[str]:
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


def _timer_problem(timer: tuple[str, str], written: set[str], before: set[str] | None = None) -> str | None:
    kind, expression = timer
    if not kind or not expression:
        return "Minuteur sans expression (date, durée ou cycle)."
    unsafe = check_source(expression, "eval")
    if unsafe:
        return f"Minuteur « {expression} » : {unsafe[0]}"
    tree = ast.parse(expression, mode="eval").body
    if isinstance(tree, ast.Constant) and isinstance(tree.value, str):
        return _iso_problem(kind, tree.value)
    missing = sorted(names_used(expression) - written)
    if not missing:
        late = sorted(names_used(expression) - before) if before is not None else []
        if late:
            return (f"Minuteur « {expression} » : variable(s) écrite(s) seulement après ce minuteur : "
                    f"{', '.join(late)} ; le dossier s'arrêterait en incident en l'atteignant.")
        return None
    if _iso_problem(kind, expression) is None:
        return (f"Minuteur « {expression} » : une valeur fixe s'écrit entre guillemets, \"{expression}\" ; "
                "sans guillemets elle est lue comme un nom de variable.")
    return (f"Minuteur « {expression} » : variable(s) écrite(s) par aucun champ de formulaire ni par une tâche "
            f"{DEADLINE_HANDLER} : {', '.join(missing)}.")


def _iso_problem(kind: str, value: str) -> str | None:
    value = value.strip()
    if kind == "timeDuration":
        if not _DURATION.fullmatch(value):
            return f"Minuteur « {value} » : durée ISO 8601 invalide (exemples : \"P15D\", \"PT4H\", \"P1DT12H\")."
    elif kind == "timeDate":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"Minuteur « {value} » : date ISO 8601 invalide (exemple : \"2027-01-31T09:00:00+01:00\")."
    elif kind == "timeCycle":
        parts = value.split("/")
        if not (2 <= len(parts) <= 3 and re.fullmatch(r"R\d*", parts[0], re.ASCII)
                and _DURATION.fullmatch(parts[-1])):
            return f"Minuteur « {value} » : cycle ISO 8601 invalide (exemple : \"R3/P1D\")."
        if len(parts) == 3:
            return _iso_problem("timeDate", parts[1])
    return None


def describe(el: Element) -> str:
    """A French type label for an element."""
    return TYPE_LABELS.get(el.type, el.type)


def warnings(xml: str | bytes, key: str | None = None) -> list[Problem]:
    """Risks that do not block a deployment: a gateway deciding on a value nobody chose (a default, a checkbox)."""
    try:
        root = parse_xml(xml)
    except DefinitionError:
        return []
    keys = executable_process_ids(root)
    key = key or (keys[0] if keys else None)
    if key not in keys:
        return []
    elements = bpmn_xml.elements(root, key)
    defaulted: dict[str, tuple[Element, str]] = {}
    for el in elements.values():
        for f in el.form:
            kind = (f.type or "string").strip().lower()
            if f.id and f.default_value not in (None, ""):
                defaulted.setdefault(f.id, (el, f"valeur par défaut « {f.default_value} »"))
            elif f.id and kind == "boolean":
                defaulted.setdefault(f.id, (el, "case à cocher : non cochée, elle vaut « non »"))
    found: list[Problem] = []
    for gw in elements.values():
        if gw.type not in ("exclusiveGateway", "inclusiveGateway"):
            continue
        read: set[str] = set()
        for flow_id in gw.outgoing:
            flow = elements.get(flow_id)
            if flow is not None and flow.condition and not check_source(flow.condition, "eval"):
                read |= names_used(flow.condition)
        for name in sorted(read & defaulted.keys()):
            owner, why = defaulted[name]
            found.append(Problem(gw.id, gw.label, (
                f"La passerelle décide sur le champ « {name} » de « {owner.label or owner.id} », qui a une {why} : "
                "une étape terminée sans y penser prend ce chemin. Faites-en un choix explicite (liste de choix "
                "obligatoire, sans valeur par défaut).")))
    return found
