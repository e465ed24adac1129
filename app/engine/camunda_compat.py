"""Run what Camunda 7 runs: rewrite a diagram drawn by Camunda Modeler into what the engine executes.

Applied to the lxml tree before SpiffWorkflow parses it (and before validation reads it), so the stored
document stays as the owner drew it and opens again in Camunda Modeler. Each rewrite and each Camunda
feature the engine does not run is returned as a Notice naming the element, in French:
- the old namespace `http://activiti.org/bpmn` is read as `http://camunda.org/schema/1.0/bpmn`;
- JUEL conditions and timer expressions (`${approved}`) are translated to Python (see juel.py);
- an unquoted ISO 8601 timer value (`P15D`, Camunda's literal) is read as the string "P15D";
- exclusive gateways follow Camunda's rule: flows are tried in document order, a flow without condition
  is always true, the default is taken last; so the first unconditioned flow becomes the default and the
  flows Camunda would never reach get the condition False;
- form keys, Java classes, delegate expressions, listeners, input/output mappings and scripts in another
  language are refused (the engine would silently skip them); async flags are a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from app.engine import juel

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ACTIVITI = "http://activiti.org/bpmn"
_ACTIVITI_DECL = re.compile(rb"""(xmlns(?::[A-Za-z_][\w.-]*)?\s*=\s*)(["'])http://activiti\.org/bpmn\2""")
DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(?:[.,]\d+)?S)?)?", re.ASCII)
PYTHON_LANGUAGES = {"", "python", "text/x-python", "http://www.python.org"}
PYTHON_SCRIPT_FORMATS = {"", "python", "text/x-python", "py"}
ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Notice:
    """What the compatibility layer did or refused on one element; level error blocks deployment."""

    element: str | None
    message: str
    level: str = ERROR


def uses_old_namespace(raw: bytes | str) -> bool:
    """Tell whether a document binds a prefix to Camunda's old namespace (http://activiti.org/bpmn)."""
    raw = raw.encode("utf-8") if isinstance(raw, str) else raw
    return bool(_ACTIVITI_DECL.search(raw))


def normalise_namespace(raw: bytes) -> bytes:
    """Rebind the old namespace http://activiti.org/bpmn to http://camunda.org/schema/1.0/bpmn."""
    return _ACTIVITI_DECL.sub(rb"\1\2" + CAMUNDA.encode() + rb"\2", raw)


def normalise_text(xml: str) -> tuple[str, bool]:
    """The document with the old namespace rebound, and whether anything changed (for upload)."""
    if not uses_old_namespace(xml):
        return xml, False
    return normalise_namespace(xml.encode("utf-8")).decode("utf-8"), True


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _is_iso(kind: str, value: str) -> bool:
    value = value.strip()
    if kind == "timeDuration":
        return bool(DURATION.fullmatch(value))
    if kind == "timeDate":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    parts = value.split("/")
    return (2 <= len(parts) <= 3 and bool(re.fullmatch(r"R\d*", parts[0], re.ASCII))
            and bool(DURATION.fullmatch(parts[-1])))


def apply(root) -> list[Notice]:
    """Rewrite the document in place as described in the module docstring; return what was done or refused."""
    notices: list[Notice] = []
    for process in root.iter(_q(BPMN, "process")):
        notices += _conditions(process)
        notices += _timers(process)
        notices += _gateways(process)
        notices += _unsupported(process)
    return notices


def _owner_id(node) -> str | None:
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return node.get("id") if node is not None else None


def _conditions(process) -> list[Notice]:
    notices = []
    for cond in process.iter(_q(BPMN, "conditionExpression")):
        element = _owner_id(cond)
        text = (cond.text or "").strip()
        language = (cond.get("language") or "").strip().lower()
        if juel.is_feel(text, language):
            try:
                python = juel.translate_feel(text)
            except juel.JuelError as exc:
                notices.append(Notice(element, f"Condition FEEL « {text} » : {exc} ; réécrivez-la avec des "
                                               "comparaisons simples."))
                cond.text = "False"
                continue
            cond.text = python
            notices.append(Notice(element, f"Condition FEEL « {text} » exécutée comme « {python} ».", INFO))
            continue
        if language not in PYTHON_LANGUAGES and not (language == "juel" or juel.is_juel(text)):
            notices.append(Notice(element, f"Condition en langage « {cond.get('language')} » : non exécutée ici ; "
                                           "écrivez-la en expression simple (Python ou ${...})."))
            cond.text = "False"
            continue
        if juel.is_juel(text):
            try:
                python = juel.translate(text)
            except juel.JuelError as exc:
                notices.append(Notice(element, f"Condition « {text} » : {exc} ; réécrivez-la avec des "
                                               "comparaisons simples (==, !=, <, >, &&, ||, !)."))
                cond.text = "False"
                continue
            cond.text = python
            notices.append(Notice(element, f"Condition JUEL « {text} » exécutée comme « {python} ».", INFO))
    return notices


def _timers(process) -> list[Notice]:
    notices = []
    for definition in process.iter(_q(BPMN, "timerEventDefinition")):
        element = _owner_id(definition.getparent())  # the event, not its definition
        for child in definition:
            kind = etree.QName(child.tag).localname if isinstance(child.tag, str) else ""
            if kind not in ("timeDate", "timeDuration", "timeCycle"):
                continue
            text = (child.text or "").strip()
            if juel.is_juel(text):
                try:
                    python = juel.translate(text)
                except juel.JuelError as exc:
                    notices.append(Notice(element, f"Minuteur « {text} » : {exc}."))
                    child.text = '"P0D"' if kind == "timeDuration" else text
                    continue
                child.text = python
                notices.append(Notice(element, f"Minuteur JUEL « {text} » lu comme « {python} ».", INFO))
            elif text and _is_iso(kind, text) and not text.startswith(("'", '"')):
                child.text = f'"{text}"'
                notices.append(Notice(element, f"Minuteur « {text} » lu comme la valeur fixe \"{text}\" "
                                               "(convention de Camunda : sans guillemets).", INFO))
    return notices


def _gateways(process) -> list[Notice]:
    notices = []
    flows = [f for f in process.iter(_q(BPMN, "sequenceFlow"))]  # document order
    names = {n.get("id"): (" ".join((n.get("name") or "").split()) or n.get("id"))
             for n in process.iter() if isinstance(n.tag, str) and n.get("id")}
    for gateway in process.iter(_q(BPMN, "exclusiveGateway")):
        gid = gateway.get("id")
        outgoing = [f for f in flows if f.get("sourceRef") == gid]
        default = gateway.get("default")

        def conditioned(flow):
            node = flow.find(_q(BPMN, "conditionExpression"))
            return node is not None and (node.text or "").strip() != ""

        unconditioned = [f for f in outgoing if not conditioned(f) and f.get("id") != default]
        if not unconditioned:
            continue
        first = unconditioned[0]
        gateway.set("default", first.get("id"))
        empty = first.find(_q(BPMN, "conditionExpression"))
        if empty is not None:
            first.remove(empty)
        if len(outgoing) == 1:
            continue  # a merge gateway: its only flow is its way on
        notices.append(Notice(first.get("id"), f"Flux sans condition sortant de « {names.get(gid)} » : pris quand "
                              "aucune condition avant lui n'est vraie (règle de Camunda), comme flux par défaut.",
                              WARNING))
        dead = outgoing[outgoing.index(first) + 1:]
        if default and default != first.get("id"):
            dead += [f for f in outgoing if f.get("id") == default]
        for flow in dict.fromkeys(dead):
            cond = flow.find(_q(BPMN, "conditionExpression"))
            if cond is None:
                cond = etree.SubElement(flow, _q(BPMN, "conditionExpression"))
            cond.text = "False"
            notices.append(Notice(flow.get("id"), f"Flux jamais pris : il vient après le flux sans condition "
                                  f"« {names.get(first.get('id'))} » de « {names.get(gid)} » (règle de Camunda).",
                                  WARNING))
    return notices


_LISTENERS = {"taskListener": "écouteur de tâche (camunda:taskListener)",
              "executionListener": "écouteur d'exécution (camunda:executionListener)",
              "inputOutput": "correspondance d'entrées/sorties (camunda:inputOutput)",
              "connector": "connecteur (camunda:connector)"}


def _unsupported(process) -> list[Notice]:
    notices = []
    for node in process.iter():
        if not isinstance(node.tag, str) or node.get("id") is None:
            continue
        element, kind = node.get("id"), etree.QName(node.tag).localname
        form_key = node.get(_q(CAMUNDA, "formKey"))
        # a form key next to camunda:formData only names the form (our own files do so); alone, it is the form
        if form_key and node.find(f"{_q(BPMN, 'extensionElements')}/{_q(CAMUNDA, 'formData')}") is None:
            notices.append(Notice(element, f"Formulaire externe ou intégré (camunda:formKey « {form_key} ») : il "
                                  "n'est pas affiché ici ; décrivez les champs dans l'onglet Formulaire "
                                  "(camunda:formData), sinon la tâche n'aurait aucun champ."))
        java = node.get(_q(CAMUNDA, "class"))
        if java:
            notices.append(Notice(element, f"Classe Java « {java} » : elle ne s'exécute pas ici ; utilisez une "
                                  "tâche de service externe (camunda:type=\"external\") avec un camunda:topic."))
        delegate = node.get(_q(CAMUNDA, "delegateExpression"))
        if delegate:
            notices.append(Notice(element, f"Expression de délégation « {delegate} » : elle ne s'exécute pas ici ; "
                                  "utilisez une tâche de service externe avec un camunda:topic."))
        expression = node.get(_q(CAMUNDA, "expression"))
        if expression and kind == "serviceTask" and juel.is_juel(expression):
            notices.append(Notice(element, f"Expression « {expression} » : elle ne s'exécute pas ici ; utilisez "
                                  "une tâche de service externe avec un camunda:topic."))
        for flag in ("asyncBefore", "asyncAfter", "async"):
            if node.get(_q(CAMUNDA, flag)) == "true":
                notices.append(Notice(element, f"Continuation asynchrone (camunda:{flag}) : ignorée, l'étape "
                                      "s'exécute dans la même transaction que la précédente.", WARNING))
        if kind == "scriptTask":
            script_format = (node.get("scriptFormat") or "").strip().lower()
            if script_format not in PYTHON_SCRIPT_FORMATS:
                notices.append(Notice(element, f"Script en « {node.get('scriptFormat')} » : seul Python (restreint) "
                                      "s'exécute ici ; réécrivez le script en Python."))
        extensions = node.find(_q(BPMN, "extensionElements"))
        if extensions is not None:
            for child in extensions:
                name = etree.QName(child.tag).localname if isinstance(child.tag, str) else ""
                if etree.QName(child.tag).namespace == CAMUNDA and name in _LISTENERS:
                    notices.append(Notice(element, f"{_LISTENERS[name][0].upper()}{_LISTENERS[name][1:]} : non "
                                          "exécuté ici ; décrivez ce travail par une tâche de service ou de script."))
    return notices
