"""Parse BPMN documents: safe XML, the Camunda parser with our task classes, checked and cached specs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask, StartEvent
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser, UserTaskParser
from SpiffWorkflow.exceptions import SpiffWorkflowException

from app.engine.errors import BPMN_NS, MAX_BPMN_BYTES, DefinitionError
from app.engine.script_safety import check_source
from app.forms.fields import FieldSpec, FormDefinitionError, fields_from_camunda

# --- safe XML --------------------------------------------------------------------------------------

def parse_xml(xml: str | bytes) -> etree._Element:
    """Parse BPMN XML with entities, DTDs and network access off; raise DefinitionError if hostile or malformed."""
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(raw) > MAX_BPMN_BYTES:
        raise DefinitionError([(None, f"Fichier trop volumineux (plus de {MAX_BPMN_BYTES // 1024} Kio).")])
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise DefinitionError([(None, "Les déclarations DOCTYPE et ENTITY sont refusées.")])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError([(None, f"XML mal formé : {exc}")]) from None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise DefinitionError([(None, "Ce n'est pas un document BPMN 2.0 (élément racine bpmn:definitions).")])
    return root


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
    }


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
    user_tasks: dict[str, dict] = field(default_factory=dict)  # bpmn id -> {name, lane, form}


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


def _form_of(task_spec) -> list[FieldSpec]:
    form = getattr(task_spec, "form", None)
    try:
        return list(fields_from_camunda(getattr(form, "fields", []) or []))
    except FormDefinitionError as exc:
        raise DefinitionError([(task_spec.name, str(exc))]) from None


def parse_definition(xml: str | bytes, key: str | None = None, filename: str = "process.bpmn") -> ProcessSpec:
    """Parse and check one BPMN document; raise DefinitionError listing what is wrong."""
    root = parse_xml(xml)
    keys = executable_process_ids(root)
    if key is None:
        if not keys:
            raise DefinitionError([(None, "Aucun processus exécutable (isExecutable=\"true\").")])
        key = keys[0]
    elif key not in keys:
        raise DefinitionError([(key, "Processus exécutable introuvable dans ce document.")])
    parser = AppParser()
    try:
        parser.add_bpmn_xml(root, filename=filename)
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise DefinitionError([(getattr(exc, "id", None), str(exc).splitlines()[0])]) from None
    except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as exc:
        raise DefinitionError([(None, f"Le moteur ne peut pas lire ce processus : {exc!r}")]) from None

    problems = []
    all_specs = [spec, *subprocess_specs.values()]
    for s in all_specs:
        for element_id, source, mode in _expressions(s):
            for message in check_source(source, mode):
                problems.append((element_id, message))
    if problems:
        raise DefinitionError(problems)

    name, props = _process_properties(root, key)
    user_tasks, lanes = {}, []
    start_form, start_lane = [], None
    for s in all_specs:
        for ts in s.task_specs.values():
            if ts.lane and ts.lane not in lanes:
                lanes.append(ts.lane)
            if ts.manual:
                user_tasks[ts.name] = {"name": ts.bpmn_name or ts.name, "lane": ts.lane, "form": _form_of(ts),
                                       "properties": dict(getattr(ts, "extensions", {}) or {})}
    start = [ts for ts in spec.task_specs.values() if isinstance(ts, StartEvent) and ts.event_definition is not None]
    none_starts = [ts for ts in start if type(ts.event_definition).__name__ == "NoneEventDefinition"]
    if none_starts:
        start_form, start_lane = _form_of(none_starts[0]), none_starts[0].lane
    return ProcessSpec(key=key, name=name, spec=spec, subprocess_specs=subprocess_specs, properties=props,
                       start_form=start_form, start_lane=start_lane, lanes=lanes, user_tasks=user_tasks)


class SpecCache:
    """Parsed specs by definition hash: parse once per version in each process (thread-safe, bounded)."""

    def __init__(self, size: int = 64):
        self._items: OrderedDict[tuple[str, str], ProcessSpec] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, sha256: str, key: str, xml: str) -> ProcessSpec:
        with self._lock:
            if (sha256, key) in self._items:
                self._items.move_to_end((sha256, key))
                return self._items[(sha256, key)]
        parsed = parse_definition(xml, key)
        with self._lock:
            self._items[(sha256, key)] = parsed
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return parsed


SPECS = SpecCache()
