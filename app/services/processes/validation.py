"""Checks a BPMN document must pass before it is deployed; every problem names its element (id and label).

On top of engine.parse_definition (hostile XML, unparsable BPMN, unsafe expressions), the document is read
element by element with lxml, so that a diagram the engine cannot parse still gets precise messages.

Why one module over 400 lines: every deploy check runs here in one pass so that each problem is said once,
with its level (error, warning); the dataflow analysis and the Camunda rewrites are their own modules.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from datetime import datetime

from app.engine import (
    DefinitionError,
    bpmn_xml,
    camunda_compat,
    dmn,
    executable_process_ids,
    parse_definition,
    parse_xml,
)
from app.engine.bpmn_xml import TYPE_LABELS, Element
from app.engine.parser import load, load_decisions
from app.engine.script_safety import check_source, names_used
from app.forms.fields import FormDefinitionError, fields_from_camunda, from_camunda
from app.services.core import deadline_rules, handlers, personal
from app.services.core.definitions import form_problems
from app.services.people.users import KNOWN_GROUPS, by_username
from app.services.processes import dataflow

_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(?:[.,]\d+)?S)?)?", re.ASCII)
# Elements SpiffWorkflow cannot run in this application, with the reason shown to the process owner.
UNSUPPORTED = {
    "dataStoreReference": "magasin de données sans implémentation dans le moteur",
    "complexGateway": "passerelle complexe non prise en charge par le moteur",
    "adHocSubProcess": "sous-processus ad hoc non pris en charge par le moteur",
}
# Elements Camunda runs as a pass-through: a warning, not a refusal.
PASS_THROUGH = {
    "task": "Tâche sans type (ni utilisateur, ni service, ni script) : elle est passée sans rien faire, comme "
            "dans Camunda.",
}
DEADLINE_HANDLER = dataflow.DEADLINE_HANDLER
ERROR, WARNING, INFO = camunda_compat.ERROR, camunda_compat.WARNING, camunda_compat.INFO


@dataclass(frozen=True)
class Problem:
    """One reason a document cannot be deployed."""

    element: str | None
    label: str | None
    message: str
    level: str = ERROR  # error blocks deployment; warning and info are shown to the owner

    @property
    def blocking(self) -> bool:
        return self.level == ERROR

    def to_json(self) -> dict:
        return asdict(self)


def blocking(problems: list[Problem]) -> list[Problem]:
    """The problems that forbid deployment."""
    return [p for p in problems if p.blocking]


NAMESPACE_NOTICE = ("Ancien espace de noms Camunda (http://activiti.org/bpmn) : remplacé par "
                    "http://camunda.org/schema/1.0/bpmn ; les formulaires et attributs camunda: sont conservés.")


def validate(xml: str | bytes, key: str | None = None,
             decisions: dict[str, str] | None = None) -> tuple[str | None, list[Problem]]:
    """Check a document and the DMN documents shipped with it (by file name); return (the process key checked,
    problems); no blocking problem means it can be deployed."""
    try:
        root, notices = load(xml)
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
        if key in bpmn_xml.process_names(root):
            return key, [Problem(key, labels.get(key), "Processus non exécutable : cochez « Exécutable » dans les "
                                 "propriétés du processus (isExecutable=\"true\"), puis corrigez ce que la "
                                 "vérification signale.")]
        return key, [Problem(key, labels.get(key), "Processus exécutable introuvable dans ce document.")]

    elements = bpmn_xml.elements(root, key)
    decision_problems, tables = _decisions(decisions)
    for el in elements.values():
        if el.type == "businessRuleTask" and el.decision_ref in tables:
            table = tables[el.decision_ref]
            el.decision_outputs = list(table.outputs)
            el.decision_reads = _reads_of(table)
    in_process = set(elements) | {key}
    first = [Problem(key, labels.get(key), NAMESPACE_NOTICE, INFO)] if camunda_compat.uses_old_namespace(xml) else []
    problems = first + [Problem(n.element, labels.get(n.element), n.message, n.level) for n in notices
                        if n.element is None or n.element in in_process]
    refused = {n.element for n in notices if n.level == ERROR}  # Camunda features refused: said once, above
    problems += [p for p in _element_problems(elements) if p.element not in refused]
    problems += decision_problems
    problems += _rule_task_problems(elements, tables, _declared(decisions))
    unsupported = any(el.type in UNSUPPORTED for el in elements.values())
    named = {p.element for p in problems if p.blocking}
    try:
        pspec = parse_definition(xml, key, decisions=decisions)
        problems += [Problem(element, labels.get(element), message) for element, message in form_problems(pspec)]
    except DefinitionError as exc:
        for element, message in exc.problems:
            if (unsupported and element is None) or (element in named and element is not None):
                continue  # the engine's stop on an element already named above: each problem once
            problems.append(Problem(element or key, labels.get(element or key), _readable(message)))
    except Exception as exc:  # noqa: BLE001 - never a server error on a foreign diagram: name the process
        if not unsupported:
            problems.append(Problem(key, labels.get(key),
                                    f"Le moteur ne peut pas lire ce processus ({type(exc).__name__})."))
    return key, _unique(problems)


def _document_processes(node) -> set[str]:
    root = node.getroottree().getroot()
    return {p.get("id") for p in bpmn_xml.processes(root)}


def _decisions(documents: dict[str, str] | None) -> tuple[list[Problem], dict]:
    """The DMN documents' problems and their decisions by id."""
    try:
        _, tables = load_decisions(documents)
    except DefinitionError as exc:
        return [Problem(e, e, m) for e, m in exc.problems], {}
    return [], tables


def _reads_of(table) -> set[str]:
    names = set()
    for _label, expression in table.inputs:
        try:
            names |= names_used(expression, "eval")
        except (SyntaxError, ValueError):
            continue
    return names


def _declared(documents: dict[str, str] | None) -> set[str]:
    """Decision ids the documents declare, even when a document has problems (reported on their own)."""
    found = set()
    for text in (documents or {}).values():
        try:
            found.update(dmn.decision_ids(text))
        except DefinitionError:
            continue
    return found


def _rule_task_problems(elements: dict[str, Element], tables: dict, declared: set[str]) -> list[Problem]:
    problems = []
    for el in elements.values():
        if el.type != "businessRuleTask":
            continue
        if not el.decision_ref:
            called = _foreign_decision(el.node)
            hint = (f" ; ce diagramme appelle la décision « {called[0]} » ({called[1]}) : joignez le fichier DMN qui "
                    f"la définit et indiquez camunda:decisionRef=\"{called[0]}\"") if called else ""
            problems.append(Problem(el.id, el.label, "Tâche de règle métier sans table de décision : indiquez "
                                    "camunda:decisionRef (l'identifiant de la décision du fichier DMN joint)"
                                    f"{hint}."))
        elif el.decision_ref not in tables and el.decision_ref not in declared:
            known = ", ".join(sorted(tables)) or "aucune"
            problems.append(Problem(el.id, el.label, f"Table de décision « {el.decision_ref} » introuvable : joignez "
                                    f"le fichier DMN qui la définit (décisions jointes : {known})."))
    return problems


def _foreign_decision(node) -> tuple[str, str] | None:
    """The decision another tool's business rule task calls (Camunda 8, Trisotech): (id, how it is written)."""
    for child in node.iter():
        if not isinstance(child.tag, str):
            continue
        local = child.tag.rsplit("}", 1)[-1]
        if local == "calledDecision" and child.get("decisionId"):
            return child.get("decisionId"), "zeebe:calledDecision, Camunda 8"
        if local == "header" and child.get("key") == "decisionRef" and child.get("value"):
            return child.get("value"), "en-tête zeebe decisionRef"
    return None


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
    flow = dataflow.Dataflow(elements)
    problems: list[Problem] = [Problem(*found) for found in dataflow.problems(elements, flow)]
    written = flow.written
    for el in elements.values():
        def add(message: str, el=el) -> None:
            problems.append(Problem(el.id, el.label, message))

        if el.type in UNSUPPORTED:
            reason = UNSUPPORTED[el.type]
            add(f"{reason[0].upper()}{reason[1:]}.")
        if el.type in PASS_THROUGH:
            problems.append(Problem(el.id, el.label, PASS_THROUGH[el.type], WARNING))
        if el.type == "userTask":
            problems.extend(Problem(el.id, el.label, m, level) for m, level in _assignment_problems(el))
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
            message = _timer_problem(el.timer, written, flow.written_before(el))
            if message:
                add(message)
        if el.type == "callActivity":
            called = el.node.get("calledElement")
            if not called:
                add("Activité d'appel sans processus appelé (attribut calledElement).")
            elif called not in _document_processes(el.node):
                add(f"Le processus appelé « {called} » est introuvable dans ce document.")
        if el.type == "scriptTask" and not el.script:
            add("Tâche de script sans script.")
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
    if gw.default is None:  # every flow has a condition (camunda_compat made an unconditioned one the default)
        conditions = [f for f in outgoing if f.condition]
        problems.append(Problem(gw.id, gw.label, (
            f"Passerelle exclusive sans flux par défaut : si aucune de ses {len(conditions)} condition(s) n'est "
            "vraie, le dossier s'arrête en incident. Marquez un flux sortant comme flux par défaut."), WARNING))
    elif gw.default not in gw.outgoing:
        problems.append(Problem(gw.id, gw.label,
                                f"Le flux par défaut « {gw.default} » ne sort pas de cette passerelle."))
    for f in outgoing:
        if not f.condition and f.id != gw.default and gw.default is not None:
            problems.append(Problem(f.id, f.label, f"Flux sans condition sortant de la passerelle « {gw.label} » "
                                    "et qui n'est pas le flux par défaut."))
    return problems


def _assignment_problems(el: Element) -> list[tuple[str, str]]:
    """Who works on a user task: its lane, else camunda:candidateGroups; camunda:assignee / candidateUsers."""
    found = []
    groups, users = el.candidate_groups, list(dict.fromkeys([*([el.assignee] if el.assignee else []),
                                                            *el.candidate_users]))
    expressions = [v for v in [*groups, *users] if "${" in v or "#{" in v]
    if expressions:
        return [(f"Attribution par expression ({', '.join(expressions)}) : non prise en charge ; indiquez le groupe "
                 "(couloir ou camunda:candidateGroups) ou l'identifiant de l'utilisateur.", ERROR)]
    for group in ([el.lane] if el.lane else []) + groups:
        if group not in KNOWN_GROUPS:
            source = "Couloir" if group == el.lane else "Groupe candidat (camunda:candidateGroups)"
            found.append((f"{source} « {group} » : aucun groupe de ce nom ({', '.join(KNOWN_GROUPS)}).", ERROR))
    if el.lane and groups and el.lane not in groups:
        found.append((f"Couloir « {el.lane} » et groupes candidats « {', '.join(groups)} » en désaccord : la tâche "
                      "irait au couloir ; mettez-les d'accord.", ERROR))
    elif not el.lane and len(groups) > 1:
        found.append((f"Plusieurs groupes candidats ({', '.join(groups)}) : la tâche va au premier, « {groups[0]} ».",
                      WARNING))
    group = el.lane or (groups[0] if groups else None)
    if group is None and not users:
        found.append(("Tâche utilisateur hors couloir et sans groupe candidat : placez-la dans le couloir du groupe "
                      "qui doit la traiter (ou indiquez camunda:candidateGroups).", ERROR))
    elif group is None and len(users) > 1 and not el.assignee:
        found.append((f"Plusieurs utilisateurs candidats ({', '.join(users)}) sans groupe : indiquez "
                      "camunda:candidateGroups ou un seul utilisateur (camunda:assignee).", ERROR))
    for username in users:
        message = _user_problem(username, group)
        if message:
            found.append((message, ERROR))
    return found


def _user_problem(username: str, group: str | None) -> str | None:
    from flask import has_app_context

    if not has_app_context():
        return None  # checked again at deploy, where the users are known
    user = by_username(username)
    if user is None or not user.active:
        return f"Utilisateur « {username} » (camunda:assignee / candidateUsers) : inconnu ou désactivé."
    if group and not user.in_any(group):
        return f"Utilisateur « {username} » : il n'appartient pas au groupe « {group} » de la tâche."
    return None


def _timer_problem(timer: tuple[str, str], written: set[str], before=None) -> str | None:
    kind, expression = timer
    if not kind or not expression:
        return "Minuteur sans expression (date, durée ou cycle)."
    unsafe = check_source(expression, "eval")
    if unsafe:
        return f"Minuteur « {expression} » : {unsafe[0]}"
    tree = ast.parse(expression, mode="eval").body
    if isinstance(tree, ast.Constant) and isinstance(tree.value, str):
        return _iso_problem(kind, tree.value)
    missing = sorted(names_used(expression) - written - dataflow.SYSTEM_VARIABLES)
    if not missing:
        late = sorted(n for n in names_used(expression) - dataflow.SYSTEM_VARIABLES if n not in before) \
            if before is not None else []
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
                "obligatoire, sans valeur par défaut)."), WARNING))
    found += _personal_warnings(elements)
    return found


def _personal_warnings(elements: dict[str, Element]) -> list[Problem]:
    """A form field named like an e-mail, phone, name or address, with no `personal` property and no convention
    covering it (app/services/core/personal.py): its values would enter the audit trail in clear."""
    found, seen = [], set()
    for el in elements.values():
        for f in el.form:
            flags = {(p.id or ""): (p.value or "") for p in f.properties}
            if not f.id or f.id in seen or "personal" in flags:
                continue
            seen.add(f.id)
            if personal.LOOKS_PERSONAL.search(f.id) and not personal.is_personal(f.id):
                found.append(Problem(el.id, el.label, (
                    f"Champ « {f.id} » : son nom évoque une donnée personnelle mais il n'est pas classé ; ajoutez la "
                    "propriété personal=true (ses valeurs seront scellées dans l'historique et effaçables) ou "
                    "personal=false."), WARNING))
    return found
