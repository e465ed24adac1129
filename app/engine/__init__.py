"""The engine: the only package that imports SpiffWorkflow.

It parses BPMN documents into checked, cached specs (`parser`), runs conditions and scripts in a restricted
environment with the application clock (`scripting`, `script_safety`), runs one case's workflow step by step
(`runtime.CaseWorkflow`), stores its state as JSON without the spec (`serialization`), keeps long-lived cases'
task trees small (`compaction`) and moves running cases between versions (`migration`). `bpmn_xml` reads a
document's elements with lxml for validation and comparison. Callers see plain values: ReadyTask, StepResult,
dicts and strings; no SpiffWorkflow object leaves the package. The names below are its public facade.
"""

from app.engine import bpmn_xml, camunda_compat, dmn  # noqa: F401 - public modules of the facade
from app.engine.errors import TIMER_HELD, TIMER_TYPES, DefinitionError, EngineError
from app.engine.parser import (
    SPECS,
    HandlerTask,
    ProcessSpec,
    SpecCache,
    executable_process_ids,
    parse_definition,
    parse_xml,
)
from app.engine.runtime import CaseWorkflow, ReadyTask, StepContext, StepResult
from app.engine.scripting import RestrictedScriptEngine
from app.engine.serialization import SERIALIZER, SERIALIZER_VERSION

__all__ = [
    "SERIALIZER", "SERIALIZER_VERSION", "SPECS", "TIMER_HELD", "TIMER_TYPES", "CaseWorkflow", "DefinitionError",
    "EngineError", "HandlerTask", "ProcessSpec", "ReadyTask", "RestrictedScriptEngine", "SpecCache", "StepContext",
    "StepResult", "executable_process_ids", "parse_definition", "parse_xml",
]
