"""Parse BPMN documents: safe XML, the Camunda parser with our task classes, checked and cached specs.

Business rule tasks (the decision evaluated once, Camunda's result mapping) are in `decision_tasks`.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser
from SpiffWorkflow.camunda.parser.task_spec import (
    CAMUNDA_MODEL_NS,
    CamundaTaskParser,
    UserTaskParser,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException

from app.engine import camunda_compat, dmn, messages_fr
from app.engine.bpmn_xml import FLOW_NODE_TYPES
from app.engine.decision_tasks import DecisionTask, DecisionTaskParser
from app.engine.errors import BPMN_NS, MAX_BPMN_BYTES, DefinitionError, DocumentLimits
from app.engine.script_safety import check_source
from app.engine.scripting import cycle_problem
from app.forms.fields import FieldSpec, FormDefinitionError, fields_from_camunda

# --- safe XML --------------------------------------------------------------------------------------

def parse_xml(xml: str | bytes) -> etree._Element:
    """Parse BPMN XML with entities, DTDs and network access off; raise DefinitionError if hostile or malformed."""
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(raw) > MAX_BPMN_BYTES:
        raise DefinitionError([(None, f"Fichier trop volumineux (plus de {MAX_BPMN_BYTES // 1024} Kio).")])
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise DefinitionError([(None, "Les déclarations DOCTYPE et ENTITY sont refusées.")])
    if camunda_compat.uses_old_namespace(raw):  # Camunda's old namespace: read as the current one
        raw = camunda_compat.normalise_namespace(raw)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError([(None, f"XML mal formé : {messages_fr.lxml(exc)}.")]) from None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise DefinitionError([(None, "Ce n'est pas un document BPMN 2.0 (élément racine bpmn:definitions).")])
    _check_size(root)
    return root


def _count(root) -> tuple[int, int]:
    """(flow nodes, sequence flows) of a document."""
    nodes = flows = 0
    prefix = f"{{{BPMN_NS}}}"
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith(prefix):
            name = tag[len(prefix):]
            if name in FLOW_NODE_TYPES:
                nodes += 1
            elif name == "sequenceFlow":
                flows += 1
    return nodes, flows


def _check_size(root) -> None:
    """Refuse documents with more flow elements than MAX_BPMN_ELEMENTS, before any costly check (linear)."""
    nodes, flows = _count(root)
    limit = DocumentLimits.max_elements
    if nodes > limit or flows > 3 * limit:
        raise DefinitionError([(None, f"Processus trop grand : {_n(nodes)} éléments et {_n(flows)} flux ; au maximum "
                                      f"{_n(limit)} éléments (tâches, événements, passerelles) et {_n(3 * limit)} "
                                      "flux. Découpez-le en sous-processus appelés.")])


def _n(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")  # French thousands separator (narrow no-break space)


# SpiffWorkflow's parser follows the flows recursively (about two frames per element): a long chain needs a
# deeper stack than Python's default 1,000 frames. Python 3.11 calls between Python functions use no C stack,
# so a higher limit is safe; it is raised only while such a document is parsed, one at a time.
_DEEP_PARSE = threading.Lock()


def _with_depth(count: int, work):
    needed = 3 * count + 500
    if needed <= sys.getrecursionlimit():
        return work()
    with _DEEP_PARSE:
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous, needed))
        try:
            return work()
        finally:
            sys.setrecursionlimit(previous)


def load(xml: str | bytes) -> tuple[etree._Element, list[camunda_compat.Notice]]:
    """Parse a document safely and rewrite it into what the engine runs (camunda_compat); return the notices."""
    root = parse_xml(xml)
    return root, camunda_compat.apply(root)


# --- parser: Camunda forms on start events, named service-task handlers ----------------------------

class HandlerTask(ServiceTask):
    """A service task that calls a named Python handler (camunda:topic) with its camunda:properties."""

    def __init__(self, wf_spec, bpmn_id, topic=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _execute(self, task):
        return task.workflow.script_engine.call_handler(task, self.topic, dict(self.extensions or {}))


class HandlerTaskParser(CamundaTaskParser):
    def create_task(self):
        topic = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}topic") or self.node.get(f"{{{CAMUNDA_MODEL_NS}}}expression")
        return self.spec_class(self.spec, self.bpmn_id, topic=topic, **self.bpmn_attributes)


class FormStartEventParser(CamundaStartEventParser):
    get_enum_field = UserTaskParser.get_enum_field

    def create_task(self):
        task = super().create_task()
        task.form = UserTaskParser.get_form(self)
        task.extensions = CamundaTaskParser.parse_extensions(self)
        return task


class AppParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (HandlerTaskParser, HandlerTask),
        full_tag("startEvent"): (FormStartEventParser, StartEvent),
        full_tag("businessRuleTask"): (DecisionTaskParser, DecisionTask),
    }

    def get_engine(self, decision_ref, node):
        if decision_ref not in self.dmn_parsers:
            raise ValidationException(f'No DMN Diagram available with id "{decision_ref}"', node=node, file_name="")
        dmn_parser = self.dmn_parsers[decision_ref]
        dmn_parser.parse()
        return dmn.FeelNullEngine(dmn_parser.decision.decisionTables[0])

    def _find_dependencies(self, process):
        # a business rule task without decisionRef is reported by DecisionTaskParser, in French
        for business_rule in process.xpath(".//bpmn:businessRuleTask", namespaces=self.namespaces):
            ref = business_rule.get(f"{{{CAMUNDA_MODEL_NS}}}decisionRef")
            if ref:
                self.dmn_dependencies.add(ref)
        BpmnParser._find_dependencies(self, process)


# --- parsed definitions ------------------------------------------------------------------------------

@dataclass
class ProcessSpec:
    """A parsed, checked definition: what the engine runs and what the app needs to know about it."""

    key: str
    name: str
    spec: object
    subprocess_specs: dict
    properties: dict
    start_form: list[FieldSpec]
    start_lane: str | None
    lanes: list[str]
    user_tasks: dict[str, dict] = field(default_factory=dict)  # bpmn id -> {name, lane, assignee, form}
    decisions: dict[str, dmn.Decision] = field(default_factory=dict)  # decision id -> what it reads and writes


def _process_properties(root, key: str) -> tuple[str, dict]:
    ns = {"bpmn": BPMN_NS, "camunda": CAMUNDA_MODEL_NS}
    found = root.xpath("bpmn:process[@id=$key]", namespaces=ns, key=key)
    if not found:
        return key, {}
    process = found[0]
    props = {p.get("name"): p.get("value") for p in
             process.xpath("bpmn:extensionElements/camunda:properties/camunda:property", namespaces=ns)}
    name = process.get("name") or ""
    if not name:
        participants = root.xpath("bpmn:collaboration/bpmn:participant[@processRef=$key]", namespaces=ns, key=key)
        name = participants[0].get("name", "") if participants else ""
    return name or key, props


def _process_node(root, key: str):
    return next(p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id") == key)


def executable_process_ids(root) -> list[str]:
    """Return the ids of the executable processes of a BPMN document."""
    return [p.get("id") for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]


def _expressions(spec) -> list[tuple[str, str, str]]:
    """Every condition, script and timer expression of a spec: (element id, source, mode)."""
    found = []
    for task_spec in spec.task_specs.values():
        for cond, _target in getattr(task_spec, "cond_task_specs", []) or []:
            source = cond.args[0] if hasattr(cond, "args") else cond
            if source is not None:
                found.append((task_spec.name, source, "eval"))
        script = getattr(task_spec, "script", None)
        if script:
            found.append((task_spec.name, script, "exec"))
        event_definition = getattr(task_spec, "event_definition", None)
        expression = getattr(event_definition, "expression", None)
        if expression:
            found.append((task_spec.name, expression, "eval"))
    return found


def _cycle_problems(spec) -> list[tuple[str, str]]:
    """Cycle timers whose constant period is under the minimum (the runtime guards computed ones)."""
    found = []
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if not isinstance(definition, CycleTimerEventDefinition) or not definition.expression:
            continue
        try:
            tree = ast.parse(definition.expression, mode="eval").body
        except SyntaxError:
            continue
        if isinstance(tree, ast.Constant) and isinstance(tree.value, str):
            message = cycle_problem(tree.value)
            if message:
                found.append((task_spec.name, message))
    return found


def _form_of(task_spec) -> list[FieldSpec]:
    form = getattr(task_spec, "form", None)
    try:
        return list(fields_from_camunda(getattr(form, "fields", []) or []))
    except FormDefinitionError as exc:
        raise DefinitionError([(task_spec.name, str(exc))]) from None


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def assignment(node, lane: str | None) -> tuple[str | None, str | None]:
    """(group, user) of a user task: its lane, else camunda:candidateGroups; camunda:assignee or a lone
    camunda:candidateUsers entry as the user the task is given to."""
    groups = _split(node.get(f"{{{CAMUNDA_MODEL_NS}}}candidateGroups"))
    users = _split(node.get(f"{{{CAMUNDA_MODEL_NS}}}candidateUsers"))
    assignee = (node.get(f"{{{CAMUNDA_MODEL_NS}}}assignee") or "").strip() or None
    group = lane or (groups[0] if groups else None)
    if assignee is None and len(users) == 1 and group is None:
        assignee = users[0]
    return group, assignee


def load_decisions(documents: dict[str, str] | None) -> tuple[list, dict[str, dmn.Decision]]:
    """Parse the DMN documents shipped with a process: ([(filename, root)], decisions by id); DefinitionError
    lists what is wrong, by file and decision."""
    roots, decisions, problems = [], {}, []
    for filename, text in sorted((documents or {}).items()):
        try:
            root = dmn.parse_dmn(text)
        except DefinitionError as exc:
            problems += [(e or filename, f"{filename} : {m}") for e, m in exc.problems]
            continue
        found = dmn.read(root)
        if len(found) != 1:
            problems.append((filename, f"{filename} : un fichier DMN contient exactement une décision "
                                       f"(trouvées : {len(found)})."))
        for decision in found:
            if decision.id in decisions:
                problems.append((decision.id, f"Décision « {decision.id} » présente dans deux fichiers DMN."))
            decisions[decision.id] = decision
            problems += decision.problems
        roots.append((filename, root))
    if problems:
        raise DefinitionError(problems)
    return roots, decisions


def parse_definition(xml: str | bytes, key: str | None = None, filename: str = "process.bpmn",
                     decisions: dict[str, str] | None = None) -> ProcessSpec:
    """Parse and check one BPMN document (with its DMN documents, by file name); raise DefinitionError
    listing what is wrong."""
    root, notices = load(xml)
    dmn_roots, decision_info = load_decisions(decisions)
    keys = executable_process_ids(root)
    if key is None:
        if not keys:
            raise DefinitionError([(None, "Aucun processus exécutable (isExecutable=\"true\").")])
        key = keys[0]
    elif key not in keys:
        raise DefinitionError([(key, "Processus exécutable introuvable dans ce document.")])
    parser = AppParser()

    def parse():
        for dmn_filename, dmn_root in dmn_roots:
            parser.add_dmn_xml(dmn_root, filename=dmn_filename)
        parser.add_bpmn_xml(root, filename=filename)
        return parser.get_spec(key), parser.get_subprocess_specs(key)

    try:
        spec, subprocess_specs = _with_depth(_count(root)[0], parse)
    except RecursionError:
        raise DefinitionError([(None, "Processus trop imbriqué ou enchaînement trop long pour le moteur.")]) from None
    except ValidationException as exc:
        raise DefinitionError([(getattr(exc, "id", None), messages_fr.spiff(str(exc)))]) from None
    except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as exc:
        raise DefinitionError([(None, f"Le moteur ne peut pas lire ce processus : {exc!r}")]) from None

    problems = [(n.element, n.message) for n in notices if n.level == camunda_compat.ERROR]
    all_specs = [spec, *subprocess_specs.values()]
    for s in all_specs:
        for element_id, source, mode in _expressions(s):
            for message in check_source(source, mode):
                problems.append((element_id, message))
        problems.extend(_cycle_problems(s))
    if problems:
        raise DefinitionError(problems)

    name, props = _process_properties(root, key)
    nodes = {n.get("id"): n for n in root.iter(f"{{{BPMN_NS}}}userTask")}
    user_tasks, lanes = {}, []
    start_form, start_lane = [], None
    for s in all_specs:
        for ts in s.task_specs.values():
            if ts.lane and ts.lane not in lanes:
                lanes.append(ts.lane)
            if ts.manual:
                group, assignee = (assignment(nodes[ts.name], ts.lane) if ts.name in nodes else (ts.lane, None))
                if group and group not in lanes:
                    lanes.append(group)
                user_tasks[ts.name] = {"name": ts.bpmn_name or ts.name, "lane": group, "assignee": assignee,
                                       "form": _form_of(ts), "properties": dict(getattr(ts, "extensions", {}) or {})}
    start = [ts for ts in spec.task_specs.values() if isinstance(ts, StartEvent) and ts.event_definition is not None]
    none_starts = [ts for ts in start if type(ts.event_definition).__name__ == "NoneEventDefinition"]
    if none_starts:
        start_form, start_lane = _form_of(none_starts[0]), none_starts[0].lane
        if start_lane is None:  # Camunda: who may start the process
            starters = _split(_process_node(root, key).get(f"{{{CAMUNDA_MODEL_NS}}}candidateStarterGroups"))
            start_lane = starters[0] if starters else None
    return ProcessSpec(key=key, name=name, spec=spec, subprocess_specs=subprocess_specs, properties=props,
                       start_form=start_form, start_lane=start_lane, lanes=lanes, user_tasks=user_tasks,
                       decisions=decision_info)


class SpecCache:
    """Parsed specs by definition hash: parse once per version in each process (thread-safe, bounded)."""

    def __init__(self, size: int = 64):
        self._items: OrderedDict[tuple[str, str], ProcessSpec] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def cached(self, sha256: str, key: str) -> ProcessSpec | None:
        """The spec already parsed for this hash and process, or None."""
        with self._lock:
            found = self._items.get((sha256, key))
            if found is not None:
                self._items.move_to_end((sha256, key))
            return found

    def get(self, sha256: str, key: str, xml: str, decisions: dict[str, str] | None = None) -> ProcessSpec:
        with self._lock:
            if (sha256, key) in self._items:
                self._items.move_to_end((sha256, key))
                return self._items[(sha256, key)]
        parsed = parse_definition(xml, key, decisions=decisions)
        with self._lock:
            self._items[(sha256, key)] = parsed
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return parsed


SPECS = SpecCache()
