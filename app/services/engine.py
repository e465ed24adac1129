"""The only module that imports SpiffWorkflow: parse, start, step, complete, timers, messages, serialize.

Callers get plain values (ReadyTask, dicts, strings); the workflow object is opaque to them.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

from app import clock
from app.forms.fields import FieldSpec, FormDefinitionError, from_camunda
from app.services import engine_compaction
from app.services.script_safety import SAFE_BUILTINS, check_source

MAX_BPMN_BYTES = 2 * 1024 * 1024
TIMER_TYPES = ("TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
TIMER_HELD = "9999-12-31T23:59:59+00:00"  # the fire time of a timer held by a paused clock: never reached


class DefinitionError(ValueError):
    """A BPMN document that cannot be deployed; `problems` lists (element id, message)."""

    def __init__(self, problems: list[tuple[str | None, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{e or 'document'}: {m}" for e, m in problems))


class EngineError(Exception):
    """A script, condition or service task failed while the engine ran a case."""

    def __init__(self, message: str, bpmn_id: str | None = None):
        self.bpmn_id = bpmn_id
        super().__init__(message)


# --- the clock: SpiffWorkflow's timers read datetime.now() in their own module -------------------

class _ClockDatetime(datetime):
    """datetime whose now() is the application clock, so tests move timers by moving the clock."""

    @classmethod
    def now(cls, tz=None):
        value = clock.now()
        return value.astimezone(tz) if tz else value.replace(tzinfo=None)


spiff_timer.datetime = _ClockDatetime


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


# --- the restricted script engine -------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _checked(source: str, mode: str) -> tuple[str, ...]:
    return tuple(check_source(source, mode))


class RestrictedScriptEngine(PythonScriptEngine):
    """Conditions and scripts run with a small set of builtins, after an AST check that refuses escapes."""

    def __init__(self, context: StepContext | None = None):
        super().__init__(environment=TaskDataEnvironment({"__builtins__": SAFE_BUILTINS}))
        self.context = context

    def evaluate(self, task, expression, external_context=None):
        problems = _checked(expression, "eval")
        if problems:
            raise EngineError(f"Expression refusée « {expression} » : {problems[0]}", task.task_spec.name)
        return super().evaluate(task, expression, external_context)

    def execute(self, task, script, external_context=None):
        problems = _checked(script, "exec")
        if problems:
            raise EngineError(f"Script refusé : {problems[0]}", task.task_spec.name)
        return super().execute(task, script, external_context)

    def call_handler(self, task, topic, properties):
        if self.context is None:
            raise EngineError(f"Aucun contexte pour la tâche de service « {topic} »", task.task_spec.name)
        try:
            updates = self.context.call_handler(topic, properties, dict(task.data), task.task_spec.name)
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - the handler's failure is reported on its element
            raise EngineError(f"{topic} : {type(exc).__name__}: {exc}", task.task_spec.name) from exc
        if updates:
            task.data.update(updates)
        return True


# --- serialization without the spec -----------------------------------------------------------------

class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Store the task tree only: the definition row holds the XML, and the parsed spec is cached per process."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        from uuid import UUID

        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
SpeclessWorkflowConverter(BpmnWorkflow, _registry)
SERIALIZER = BpmnWorkflowSerializer(_registry)
SERIALIZER_VERSION = f"{SERIALIZER.VERSION}-specless"


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
    fields = []
    for f in getattr(form, "fields", []) or []:
        try:
            fields.append(from_camunda(f))
        except FormDefinitionError as exc:
            raise DefinitionError([(task_spec.name, str(exc))]) from None
    return fields


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


# --- running cases ----------------------------------------------------------------------------------

class StepContext:
    """What service-task handlers can do during a step; the service layer implements it."""

    def call_handler(self, topic: str, properties: dict, data: dict, bpmn_id: str) -> dict | None:
        raise NotImplementedError


@dataclass
class ReadyTask:
    id: str
    bpmn_id: str
    name: str
    lane: str | None
    form: list[FieldSpec]
    properties: dict


@dataclass
class StepResult:
    """What one step did: the elements it completed, in order, and the workflow's state after it."""

    path: list[dict] = field(default_factory=list)
    ready: list[ReadyTask] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    completed: bool = False
    next_timer_at: datetime | None = None
    waiting: list[dict] = field(default_factory=list)
    error: EngineError | None = None


class CaseWorkflow:
    """A loaded workflow plus its parsed spec; every mutation returns a StepResult.

    Long-lived cases: after each step that ends at a wait state, the finished tasks that nothing active needs
    are dropped from the live tree (engine_compaction.compact; the audit log keeps the history), so a step
    costs the same at pass 1000 of a loop as at pass 5, and a guard turns the library's silent stall at
    depth 1000 into an incident. `compaction` is switched off only to measure the library's raw cost.
    """

    compaction = True

    def __init__(self, pspec: ProcessSpec, workflow: BpmnWorkflow, data: dict | None = None):
        self.pspec = pspec
        self.wf = workflow
        # The case's business data: each step merges into it what its completed tasks changed. Parallel
        # branches each carry their own copy of the data in SpiffWorkflow, so "the data of the latest task"
        # could bring back stale values from a branch that started earlier (e.g. an escalation path).
        # It is kept in the serialized workflow itself (workflow-level data, not visible to scripts), so the
        # stored state alone says what the case's data is; case.data is a denormalized copy for lists.
        stored = workflow.data.get("case_data")
        if stored is not None:
            self.data = stored
        elif data is not None:
            self.data = dict(data)
            workflow.data["case_data"] = self.data
        else:
            self.data = None

    @classmethod
    def start(cls, pspec: ProcessSpec, data: dict, context: StepContext) -> tuple[CaseWorkflow, StepResult]:
        engine = RestrictedScriptEngine(context)
        wf = BpmnWorkflow(pspec.spec, pspec.subprocess_specs, script_engine=engine)
        wf.task_tree.data.update(data)
        case = cls(pspec, wf, data)
        return case, case._steps()

    @classmethod
    def load(cls, pspec: ProcessSpec, state: str, context: StepContext, data: dict | None = None) -> CaseWorkflow:
        import json

        dct = json.loads(state)
        dct.pop(SERIALIZER.VERSION_KEY, None)
        wf = SERIALIZER.from_dict(dct, spec=pspec.spec, subprocess_specs=pspec.subprocess_specs)
        wf.script_engine = RestrictedScriptEngine(context)
        return cls(pspec, wf, data)

    def dump(self) -> str:
        return SERIALIZER.serialize_json(self.wf)

    def set_context(self, context: StepContext) -> None:
        self.wf.script_engine.context = context

    def ready_tasks(self) -> list[ReadyTask]:
        result = []
        for t in self.wf.get_tasks(state=TaskState.READY, manual=True):
            ts = t.task_spec
            result.append(ReadyTask(id=str(t.id), bpmn_id=ts.name, name=ts.bpmn_name or ts.name, lane=ts.lane,
                                    form=self.pspec.user_tasks.get(ts.name, {}).get("form", []),
                                    properties=dict(getattr(ts, "extensions", {}) or {})))
        return result

    def find_ready(self, task_id: str):
        from uuid import UUID

        try:
            task = self.wf.get_task_from_id(UUID(task_id))
        except (ValueError, TypeError, KeyError, SpiffWorkflowException):
            return None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            return None
        return task

    def complete(self, task_id: str, values: dict) -> StepResult:
        """Complete a ready human task with validated values, then run the engine to the next wait."""
        task = self.find_ready(task_id)
        if task is None:
            raise LookupError(task_id)
        task.set_data(**values)
        task.run()
        return self._steps(first={"bpmn_id": task.task_spec.name, "type": "userTask",
                                  "name": task.task_spec.bpmn_name}, updates=dict(values))

    def fire_timers(self) -> StepResult:
        """Wake the timers whose time has come (by the application clock) and run the engine."""
        self.wf.refresh_timers()
        return self._steps()

    def deliver_message(self, name: str, payload: dict) -> StepResult:
        """Deliver a BPMN message (e.g. litige_clos) to this workflow and run the engine."""
        waiting = self._message_catchers(name)
        result_var = getattr(waiting[0].task_spec.event_definition, "result_var", None) if waiting else None
        # The Camunda message definition expects {"payload", "result_var"}; the catch stores it in task data.
        self.wf.catch(BpmnEvent(MessageEventDefinition(name), {"payload": payload,
                                                              "result_var": result_var or f"{name}_payload"}))
        return self._steps()

    def waits_for_message(self, name: str) -> bool:
        return bool(self._message_catchers(name))

    def _message_catchers(self, name: str) -> list:
        return [t for t in self.wf.event_manager.tasks.values()
                if getattr(t.task_spec.event_definition, "name", None) == name
                and isinstance(t.task_spec.event_definition, MessageEventDefinition)]

    def _steps(self, first: dict | None = None, updates: dict | None = None) -> StepResult:
        result = StepResult()
        if first:
            result.path.append(first)
        updates = dict(updates or {})

        def did_complete(task):
            ts = task.task_spec
            parent = task.parent.data if task.parent is not None else {}
            updates.update({k: v for k, v in task.data.items() if k not in parent or parent[k] != v})
            if ts.bpmn_id is None:  # internal Spiff tasks (Root, Start, End joins of subprocesses)
                return
            entry = {"bpmn_id": ts.bpmn_id, "type": type(ts).__name__, "name": ts.bpmn_name}
            if "Gateway" in entry["type"] and len(ts.outputs) > 1:  # the branch(es) taken, for the audit trail
                entry["taken"] = [c.task_spec.bpmn_id for c in task.children
                                  if c.has_state(TaskState.DEFINITE_MASK | TaskState.FINISHED_MASK)]
            result.path.append(entry)

        try:
            self.wf.do_engine_steps(did_complete_task=did_complete)
        except EngineError as exc:
            result.error = exc
        except SpiffWorkflowException as exc:
            bpmn_id = getattr(getattr(exc, "task_spec", None), "name", None)
            result.error = EngineError(str(exc).splitlines()[0], bpmn_id)
        except Exception as exc:  # noqa: BLE001 - any failure becomes an incident, never a half step
            result.error = EngineError(f"{type(exc).__name__}: {exc}")
        if result.error is None and self.compaction:
            engine_compaction.compact(self.wf)
        too_deep = engine_compaction.depth_problem(self.wf)
        if too_deep and result.error is None:
            result.error = EngineError(*too_deep)
        result.ready = self.ready_tasks()
        if self.data is None:
            result.data = dict(self.wf.data) | self._latest_data()
        else:
            self.data.update(updates)
            result.data = dict(self.data)
        # Past the iterators' depth limit is_completed() cannot see the active tasks: never trust it then.
        result.completed = self.wf.is_completed() and not too_deep
        result.waiting, result.next_timer_at = self._waiting()
        return result

    def _latest_data(self) -> dict:
        """The data of the most recently changed task: the case's current business data."""
        latest = engine_compaction.latest_task(self.wf)
        return dict(latest.data if latest is not None else self.wf.task_tree.data)

    def _waiting(self) -> tuple[list[dict], datetime | None]:
        waiting, next_at = [], None
        for ev in self.wf.waiting_events():
            waiting.append({"name": ev.name, "type": ev.event_type, "value": ev.value})
            value = ev.value.get("next") if isinstance(ev.value, dict) else ev.value
            if ev.event_type in TIMER_TYPES and isinstance(value, str) and value != TIMER_HELD:
                try:
                    at = datetime.fromisoformat(value)
                except ValueError:
                    continue
                at = at if at.tzinfo else at.replace(tzinfo=UTC)
                next_at = at if next_at is None or at < next_at else next_at
        return waiting, next_at

    # --- paused deadline clocks: hold and shift the timers that read a clock's date variables -------------

    def _timers_reading(self, variables: set[str]) -> list:
        import ast

        found = []
        for task in self.wf.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, spiff_timer.TimerEventDefinition) or not definition.expression:
                continue
            expression = definition.expression
            names = {n.id for n in ast.walk(ast.parse(expression, mode="eval")) if isinstance(n, ast.Name)}
            if names & variables:
                found.append(task)
        return found

    def hold_timers(self, variables: set[str]) -> list[str]:
        """Stop the waiting timers computed from these data variables from firing (a paused clock)."""
        held = []
        for task in self._timers_reading(variables):
            if "held_event_value" in task.internal_data:
                continue
            # Spiff fixes a timer's fire time in internal_data['event_value'] when the timer is reached.
            task.internal_data["held_event_value"] = task.internal_data.get("event_value")
            task.internal_data["event_value"] = TIMER_HELD
            held.append(task.task_spec.name)
        return held

    def release_timers(self, variables: set[str], delta) -> list[str]:
        """Let held timers run again, their fire time moved later by delta (the time the clock was paused)."""
        released = []
        for task in self._timers_reading(variables):
            if "held_event_value" not in task.internal_data:
                continue
            value = task.internal_data.pop("held_event_value")
            if value is None:  # never evaluated: it will read the shifted data variable
                task.internal_data.pop("event_value", None)
            else:
                at = spiff_timer.TimerEventDefinition.get_datetime(value)
                task.internal_data["event_value"] = (at + delta).isoformat()
            released.append(task.task_spec.name)
        return released

    def update_data(self, updates: dict) -> None:
        """Change data variables on every pending task (ready, waiting, started), e.g. a shifted due date."""
        for task in self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            task.data.update(updates)
        if self.data is not None:
            self.data.update(updates)

    def next_timer_at(self) -> datetime | None:
        """The earliest pending timer (held ones excluded)."""
        return self._waiting()[1]

    def retry_errors(self) -> StepResult:
        """Put tasks left in ERROR back to READY and run the engine again (after a fix)."""
        for task in self.wf.get_tasks(state=TaskState.ERROR):
            task._set_state(TaskState.READY)
        return self._steps()

    # --- read-only views for the audit (replay and verification) ------------------------------------

    def snapshot(self) -> StepResult:
        """The workflow's current state as a StepResult, without running anything."""
        data = dict(self.data) if self.data is not None else dict(self.wf.data) | self._latest_data()
        result = StepResult(ready=self.ready_tasks(), data=data, completed=self.wf.is_completed())
        result.waiting, result.next_timer_at = self._waiting()
        return result

    def active_elements(self) -> list[str]:
        """BPMN ids holding a token now: ready tasks, waiting events, running subprocesses."""
        found = []
        for task in self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            bpmn_id = task.task_spec.bpmn_id
            if bpmn_id is not None and bpmn_id not in found:
                found.append(bpmn_id)
        return found

    def active_task_data(self) -> list[tuple[str, dict]]:
        """(bpmn id, data) of each ready or waiting task, by bpmn id: what the next steps will run on."""
        tasks = self.wf.get_tasks(state=TaskState.READY | TaskState.WAITING)
        found = [(t.task_spec.bpmn_id, dict(t.data)) for t in tasks if t.task_spec.bpmn_id is not None]
        return sorted(found, key=lambda item: item[0])
