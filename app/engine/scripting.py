"""The script environment: restricted conditions and scripts, service-task handlers, the application clock.

SpiffWorkflow's timers read `datetime.now()` in their own module; it is pointed at `app.clock` here, once.
"""

from __future__ import annotations

import functools
from datetime import datetime

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from app import clock
from app.engine.errors import EngineError
from app.engine.script_safety import SAFE_BUILTINS, check_source

# --- the clock: SpiffWorkflow's timers read datetime.now() in their own module -------------------

class _ClockDatetime(datetime):
    """datetime whose now() is the application clock, so tests move timers by moving the clock."""

    @classmethod
    def now(cls, tz=None):
        value = clock.now()
        return value.astimezone(tz) if tz else value.replace(tzinfo=None)


spiff_timer.datetime = _ClockDatetime


# --- the restricted script engine -------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _checked(source: str, mode: str) -> tuple[str, ...]:
    return tuple(check_source(source, mode))


class RestrictedScriptEngine(PythonScriptEngine):
    """Conditions and scripts run with a small set of builtins, after an AST check that refuses escapes."""

    def __init__(self, context=None):  # a runtime.StepContext
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
