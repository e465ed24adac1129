"""The script environment: restricted conditions and scripts, service-task handlers, the application clock.

Every condition, script and timer expression goes through `SandboxEnvironment`: it is checked (script_safety),
then run in the worker process of `sandbox` under the step's CPU and memory budgets, except a literal
condition on plain values (`admissible == "yes"`, `amount > 1000 and kind == "complaint"`: comparisons of
variables and constants only, proven by script_safety.literal_condition), evaluated in-process: nothing in it
can loop, call or allocate, and a pipe round trip would cost more than the comparison. What a script gives back
must be storable: plain JSON values (no set, bytes, range, generator, over-long integer or cycle) within
the case data size cap; otherwise the task fails (its data unchanged) and the case goes to incident.

SpiffWorkflow's timers read `datetime.now()` in their own module; it is pointed at `app.clock` here, once.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from app import clock
from app.engine import messages_fr, sandbox
from app.engine.errors import DocumentLimits, EngineError
from app.engine.script_safety import LITERAL_CONSTANTS, check_source, literal_condition
from app.engine.serialization import SERIALIZER

# --- the clock: SpiffWorkflow's timers read datetime.now() in their own module -------------------

class _ClockDatetime(datetime):
    """datetime whose now() is the application clock, so tests move timers by moving the clock."""

    @classmethod
    def now(cls, tz=None):
        value = clock.now()
        return value.astimezone(tz) if tz else value.replace(tzinfo=None)


spiff_timer.datetime = _ClockDatetime


# --- cycle timers: a period under the minimum would fire again at once, forever, inside one step -----------

def cycle_seconds(expression: str) -> float:
    """The period in seconds of an ISO 8601 cycle ("R3/P1D", "R/PT0S"); ValueError if it is not one."""
    try:
        return spiff_timer.TimerEventDefinition.parse_iso_recurring_interval(expression)[2].total_seconds()
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises bare Exceptions for bad intervals
        raise ValueError(str(exc)) from None


def cycle_problem(expression: str) -> str | None:
    """Why a cycle expression's period is refused (shorter than TIMER_MIN_CYCLE_SECONDS), or None."""
    try:
        seconds = cycle_seconds(expression)
    except ValueError:
        return None  # an invalid cycle has its own message
    if seconds < DocumentLimits.min_cycle_seconds:
        return (f"Minuteur « {expression} » : cycle trop court ({seconds:g} s entre deux déclenchements ; "
                f"{DocumentLimits.min_cycle_seconds} s au minimum).")
    return None


_cycle_complete = spiff_timer.CycleTimerEventDefinition.cycle_complete


def _guarded_cycle_complete(self, my_task):
    """Compute the cycle as SpiffWorkflow does, refusing a period under the minimum (it would spin)."""
    if my_task._get_internal_data("event_value") is None:
        expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        cycles, start, duration = spiff_timer.TimerEventDefinition.parse_iso_recurring_interval(expression)
        if duration.total_seconds() < DocumentLimits.min_cycle_seconds:
            raise EngineError(f"Le minuteur « {element_label(my_task)} » a un cycle trop court "
                              f"({duration.total_seconds():g} s ; {DocumentLimits.min_cycle_seconds} s au minimum) : "
                              "il se déclencherait sans fin.", my_task.task_spec.name)
        my_task._set_internal_data(event_value={"cycles": cycles, "next": start.isoformat(),
                                                "duration": duration.total_seconds()})
    return _cycle_complete(self, my_task)


spiff_timer.CycleTimerEventDefinition.cycle_complete = _guarded_cycle_complete


# --- limits ---------------------------------------------------------------------------------------------

class Limits:
    """The case data size cap (CASE_DATA_MAX_BYTES): serialized JSON of the data a step submits or produces."""

    data_max_bytes = 1024 * 1024


def configure(data_max_bytes: int | None = None) -> None:
    if data_max_bytes is not None:
        Limits.data_max_bytes = max(int(data_max_bytes), 1024)


def size_text(size: int) -> str:
    """A byte count in French units (Ko, Mo)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",").replace(",0 ", " ")
    return f"{max(size // 1024, 1)} Ko"


def unstorable(data: dict) -> tuple[str, str] | None:
    """The first variable whose value the workflow serializer cannot store, as (name, reason); None if all can."""
    for name, value in data.items():
        try:
            json.dumps(SERIALIZER.registry.convert(value))
        except RecursionError:
            return name, "valeur qui se contient elle-même ou trop imbriquée"
        except ValueError as exc:
            reason = "entier de plus de 4 300 chiffres" if "digits" in str(exc) else "valeur qui se contient elle-même"
            return name, reason
        except TypeError:
            return name, f"type « {type(value).__name__} »"
    return None


def data_size(data: dict) -> int:
    """Bytes of the data serialized as JSON (the registry's conversion of dates and the like included)."""
    return len(json.dumps(SERIALIZER.registry.convert(data), ensure_ascii=False).encode("utf-8"))


def too_big(data: dict) -> int | None:
    """The data's size when it is above the cap, else None."""
    size = data_size(data)
    return size if size > Limits.data_max_bytes else None


# --- the sandboxed environment ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _checked(source: str, mode: str) -> tuple[str, ...]:
    return tuple(check_source(source, mode))


# --- literal conditions, in-process --------------------------------------------------------------------

NOT_LITERAL = object()


@functools.lru_cache(maxsize=4096)
def _literal(source: str):
    """(compiled code, variable names) of a literal condition (script_safety.literal_condition), else None."""
    names = literal_condition(source)
    if names is None:
        return None
    return compile(source, "<condition>", "eval"), tuple(names)


def evaluate_literal(source: str, context: dict, external: dict | None = None):
    """The value of a literal condition evaluated here, without the sandbox worker; `NOT_LITERAL` when the
    sandbox must evaluate it: not a literal condition, a variable missing or not a plain value (a list, a
    date...), or an error (the sandbox then reports it exactly as it always does). A literal condition on
    plain values is a few comparisons: no call, loop or allocation that a budget would have to stop."""
    literal = _literal(source)
    if literal is None:
        return NOT_LITERAL
    code, names = literal
    scope = {}
    for name in names:
        if name in context:
            value = context[name]
        elif external and name in external:
            value = external[name]
        else:
            return NOT_LITERAL
        if type(value) not in LITERAL_CONSTANTS:
            return NOT_LITERAL
        scope[name] = value
    try:
        return eval(code, {"__builtins__": {}}, scope)  # noqa: S307 - a proven literal condition on plain values
    except Exception:  # noqa: BLE001 - e.g. "<" between a text and a number: the sandbox words the error
        return NOT_LITERAL


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, run in the sandbox worker; `budget` is the current step's."""

    def __init__(self):
        super().__init__({})
        self.budget: sandbox.StepBudget | None = None

    def _budget(self) -> sandbox.StepBudget:
        return self.budget if self.budget is not None else sandbox.StepBudget()

    def evaluate(self, expression, context, external_context=None):
        problems = _checked(expression, "eval")
        if problems:
            raise ValueError(problems[0])
        value = evaluate_literal(expression, context, external_context)
        if value is not NOT_LITERAL:
            return value
        return sandbox.run("eval", expression, dict(context), dict(external_context or {}), self._budget())

    def execute(self, script, context, external_context=None):
        problems = _checked(script, "exec")
        if problems:
            raise ValueError(problems[0])
        updated = sandbox.run("exec", script, dict(context), dict(external_context or {}), self._budget())
        found = unstorable(updated)
        if found:
            raise UnstorableData(*found)
        size = too_big(updated)
        if size is not None:
            raise DataTooBig(size)
        context.clear()
        context.update(updated)
        return True


class UnstorableData(Exception):
    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"{name}: {reason}")


class DataTooBig(Exception):
    def __init__(self, size: int):
        self.size = size
        super().__init__(str(size))


def element_label(task) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_name", None) or spec.name


def _what(task, source: str, mode: str) -> str:
    if mode == "exec":
        return f"Le script de l'élément « {element_label(task)} »"
    definition = getattr(task.task_spec, "event_definition", None)
    if getattr(definition, "expression", None) == source:
        return f"L'expression du minuteur « {element_label(task)} »"
    return f"La condition « {source[:80]} » de l'élément « {element_label(task)} »"


def engine_error(task, source: str, mode: str, exc: Exception) -> EngineError:
    """The French incident message for user code that failed, naming its element."""
    if isinstance(exc, ValueError) and mode == "exec":
        return EngineError(f"Script refusé : {exc}", task.task_spec.name)
    if isinstance(exc, ValueError):
        return EngineError(f"Expression refusée « {source} » : {exc}", task.task_spec.name)
    what = _what(task, source, mode)
    if isinstance(exc, sandbox.TimeBudgetExceeded):
        message = f"{what} a dépassé son budget de temps ({sandbox.BUDGET.time_ms} ms)."
    elif isinstance(exc, sandbox.MemoryBudgetExceeded):
        message = f"{what} a dépassé son budget de mémoire ({sandbox.BUDGET.memory_mb} Mo)."
    elif isinstance(exc, sandbox.ScriptFailed):
        if exc.error == "RecursionError":
            message = f"{what} a échoué : récursion trop profonde."
        else:
            line = f" (ligne {exc.line})" if exc.line else ""
            message = f"{what} a échoué{line} : {messages_fr.runtime(str(exc))}"
    elif isinstance(exc, UnstorableData):
        message = (f"{what} a produit une valeur impossible à enregistrer dans « {exc.name} » ({exc.reason}) : "
                   "seuls les textes, nombres, booléens, listes et dictionnaires sont conservés.")
    elif isinstance(exc, DataTooBig):
        message = (f"{what} a produit des données trop volumineuses ({size_text(exc.size)} ; "
                   f"{size_text(Limits.data_max_bytes)} au maximum) : rien n'a été enregistré.")
    else:
        message = f"{what} a échoué : {type(exc).__name__}"
    return EngineError(message, task.task_spec.name)


_USER_CODE_ERRORS = (sandbox.SandboxError, UnstorableData, DataTooBig, ValueError)


class RestrictedScriptEngine(PythonScriptEngine):
    """Conditions and scripts run in the sandbox worker, after an AST check that refuses escapes."""

    def __init__(self, context=None):  # a runtime.StepContext
        super().__init__(environment=SandboxEnvironment())
        self.context = context

    @property
    def budget(self) -> sandbox.StepBudget | None:
        return self.environment.budget

    @budget.setter
    def budget(self, value: sandbox.StepBudget | None) -> None:
        self.environment.budget = value

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except _USER_CODE_ERRORS as exc:
            raise engine_error(task, expression, "eval", exc) from None

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except _USER_CODE_ERRORS as exc:
            raise engine_error(task, script, "exec", exc) from None

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
