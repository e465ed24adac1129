"""The workflow runtime: start, step, complete, timers, messages of one case (opaque to callers).

Callers get plain values (ReadyTask, StepResult, dicts, strings); the SpiffWorkflow object never leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

from app.engine import compaction as engine_compaction
from app.engine import messages_fr, sandbox, token_moves
from app.engine.errors import TIMER_HELD, TIMER_TYPES, EngineError
from app.engine.parser import ProcessSpec
from app.engine.scripting import RestrictedScriptEngine
from app.engine.serialization import SERIALIZER
from app.forms.fields import FieldSpec

MAX_STEP_ELEMENTS = 5000  # elements one engine step may complete (a real step completes a few dozen)

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
    assignee: str | None = None  # camunda:assignee: the task is given to this user from the start


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
            info = self.pspec.user_tasks.get(ts.name, {})
            result.append(ReadyTask(id=str(t.id), bpmn_id=ts.name, name=ts.bpmn_name or ts.name,
                                    lane=info.get("lane", ts.lane), form=info.get("form", []),
                                    properties=dict(getattr(ts, "extensions", {}) or {}),
                                    assignee=info.get("assignee")))
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

    def form_of(self, task) -> list[FieldSpec]:
        """The form of a ready task found by `find_ready` (what `ready_tasks()` gives it, without listing them)."""
        return self.pspec.user_tasks.get(task.task_spec.name, {}).get("form", [])

    def complete(self, task_id: str, values: dict) -> StepResult:
        """Complete a ready human task with validated values, then run the engine to the next wait."""
        task = self.find_ready(task_id)
        if task is None:
            raise LookupError(task_id)
        task.set_data(**values)
        return self._steps(first={"bpmn_id": task.task_spec.name, "type": "userTask",
                                  "name": task.task_spec.bpmn_name}, updates=dict(values), before=task.run)

    def fire_timers(self) -> StepResult:
        """Wake the timers whose time has come (by the application clock) and run the engine."""
        # Inside the step: refreshing evaluates timer expressions (user code, under the step's budget).
        return self._steps(before=self.wf.refresh_timers)

    def deliver_message(self, name: str, payload: dict) -> StepResult:
        """Deliver a BPMN message (e.g. litige_clos) to this workflow and run the engine."""
        waiting = self._message_catchers(name)
        result_var = getattr(waiting[0].task_spec.event_definition, "result_var", None) if waiting else None
        # The Camunda message definition expects {"payload", "result_var"}; the catch stores it in task data.
        event = BpmnEvent(MessageEventDefinition(name), {"payload": payload,
                                                        "result_var": result_var or f"{name}_payload"})
        return self._steps(before=lambda: self.wf.catch(event))

    def waits_for_message(self, name: str) -> bool:
        return bool(self._message_catchers(name))

    def _message_catchers(self, name: str) -> list:
        return [t for t in self.wf.event_manager.tasks.values()
                if getattr(t.task_spec.event_definition, "name", None) == name
                and isinstance(t.task_spec.event_definition, MessageEventDefinition)]

    def _steps(self, first: dict | None = None, updates: dict | None = None, before=None) -> StepResult:
        result = StepResult()
        if first:
            result.path.append(first)
        updates = dict(updates or {})
        # One CPU and memory budget for all the user code of this step (conditions, scripts, timers).
        self.wf.script_engine.budget = sandbox.StepBudget()
        completed = [0]

        def did_complete(task):
            completed[0] += 1
            if completed[0] > MAX_STEP_ELEMENTS:  # a loop without a wait state would never give the hand back
                raise EngineError(f"Plus de {MAX_STEP_ELEMENTS} éléments exécutés en une seule étape : boucle sans "
                                  "attente (tâche utilisateur, minuteur ou message) dans le processus ?",
                                  task.task_spec.bpmn_id)
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
            if before is not None:
                before()
            self.wf.do_engine_steps(did_complete_task=did_complete)
        except EngineError as exc:
            result.error = exc
        except SpiffWorkflowException as exc:
            bpmn_id = getattr(getattr(exc, "task_spec", None), "name", None)
            result.error = EngineError(messages_fr.runtime(str(exc).splitlines()[0]), bpmn_id)
        except Exception as exc:  # noqa: BLE001 - any failure becomes an incident, never a half step
            result.error = EngineError(messages_fr.runtime(f"{type(exc).__name__}: {exc}"))
        finally:
            self.wf.script_engine.budget = None
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

    def token_targets(self) -> dict[str, dict[str, str]]:
        """Where an administrator may move each token: {held element: {target id: label}} - any flow node of
        the pinned version that can hold it (token_moves says which cannot), subprocess elements included."""
        return {t.task_spec.bpmn_id: token_moves.targets(self.wf, t) for t in token_moves.held_tasks(self.wf)}

    def token_holders(self) -> dict[str, str]:
        """The elements holding a token an administrator may move: {bpmn id: label}."""
        return {t.task_spec.bpmn_id: t.task_spec.bpmn_name or t.task_spec.bpmn_id
                for t in token_moves.held_tasks(self.wf)}

    def move_token(self, from_bpmn_id: str, to_bpmn_id: str) -> StepResult:
        """Move the token held at one element to another (an administrator's repair, recorded by the caller).
        On to an element right after the held one: the held element is skipped, not run. Anywhere else (back
        to a step passed long ago, into a subprocess already left, on further): the held token is cancelled and
        the target's task subtree built from the spec with the case's current data (token_moves).
        LookupError if there is no token at from_bpmn_id, token_moves.MoveRefused (French) for a bad target."""
        held = token_moves.held_tasks(self.wf, from_bpmn_id)
        if not held:
            raise LookupError(from_bpmn_id)
        task = held[0]
        forward = [o for o in task.task_spec.outputs if o.bpmn_id == to_bpmn_id
                   or (o.bpmn_id is None and any(n.bpmn_id == to_bpmn_id for n in o.outputs))]
        if forward:
            target = forward[0]
            task._set_state(TaskState.READY)
            task._sync_children([target], TaskState.FUTURE)
            task.complete()
            return self._steps(first={"bpmn_id": from_bpmn_id, "type": "skipped", "name": task.task_spec.bpmn_name})
        data = dict(task.data) | dict(self.data if self.data is not None else {})
        token_moves.plan(self.wf, task, to_bpmn_id)  # refuses before anything changes
        # No path entry for the held element: it was cancelled, not passed (the event says from and to).
        return self._steps(before=lambda: token_moves.move(self.wf, task, to_bpmn_id, data))

    def retry_errors(self) -> StepResult:
        """Put tasks left in ERROR back to READY and run the engine again (after a fix)."""
        def reset():
            for task in self.wf.get_tasks(state=TaskState.ERROR):
                task._set_state(TaskState.READY)
        return self._steps(before=reset)

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
