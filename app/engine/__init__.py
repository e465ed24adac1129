"""The engine: the only package that imports SpiffWorkflow.

It parses BPMN documents into checked, cached specs (`parser`), runs conditions, scripts and timer expressions
in a restricted environment with the application clock (`scripting`, `script_safety`), in a worker process
under a per-step CPU and memory budget (`sandbox`, `sandbox_worker`), runs one case's workflow step by step
(`runtime.CaseWorkflow`), stores its state as JSON without the spec (`serialization`), keeps long-lived cases'
task trees small (`compaction`) and moves running cases between versions (`migration`). `bpmn_xml` reads a
document's elements with lxml for validation and comparison. Callers see plain values: ReadyTask, StepResult,
dicts and strings; no SpiffWorkflow object leaves the package. The names below are its public facade;
`configure` applies the budgets and limits of the application's configuration.
"""

from app.engine import bpmn_xml, camunda_compat, dmn, sandbox, scripting  # noqa: F401 - public modules
from app.engine.errors import TIMER_HELD, TIMER_TYPES, DefinitionError, DocumentLimits, EngineError, MoveRefused
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
from app.engine.scripting import RestrictedScriptEngine, data_size, size_text
from app.engine.serialization import SERIALIZER, SERIALIZER_VERSION


def data_limit() -> int:
    """The case data cap in bytes (CASE_DATA_MAX_BYTES)."""
    return scripting.Limits.data_max_bytes


def configure(config) -> None:
    """Apply the budgets and limits of a configuration mapping (see the README's security section)."""
    sandbox.configure(time_ms=config.get("SCRIPT_TIME_BUDGET_MS"), memory_mb=config.get("SCRIPT_MEMORY_BUDGET_MB"))
    scripting.configure(data_max_bytes=config.get("CASE_DATA_MAX_BYTES"))
    if config.get("MAX_BPMN_ELEMENTS") is not None:
        DocumentLimits.max_elements = max(int(config["MAX_BPMN_ELEMENTS"]), 10)
    if config.get("TIMER_MIN_CYCLE_SECONDS") is not None:
        DocumentLimits.min_cycle_seconds = max(int(config["TIMER_MIN_CYCLE_SECONDS"]), 0)


__all__ = [
    "SERIALIZER", "SERIALIZER_VERSION", "SPECS", "TIMER_HELD", "TIMER_TYPES", "CaseWorkflow", "DefinitionError",
    "DocumentLimits", "EngineError", "HandlerTask", "MoveRefused", "ProcessSpec", "ReadyTask", "RestrictedScriptEngine",
    "SpecCache", "StepContext", "StepResult", "configure", "data_limit", "data_size", "executable_process_ids",
    "parse_definition", "parse_xml", "size_text",
]
