"""Engine errors and constants shared by the engine's modules (no SpiffWorkflow import needed here)."""

MAX_BPMN_BYTES = 2 * 1024 * 1024
TIMER_TYPES = ("TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
TIMER_HELD = "9999-12-31T23:59:59+00:00"  # the fire time of a timer held by a paused clock: never reached


class DocumentLimits:
    """Bounds on what a process document may hold (MAX_BPMN_ELEMENTS, TIMER_MIN_CYCLE_SECONDS)."""

    max_elements = 2000  # flow nodes (tasks, events, gateways, sub-processes) of one document
    min_cycle_seconds = 60  # the shortest period of a cycle timer (R/PT0S would spin in the engine)


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


class MoveRefused(LookupError):
    """A token move an administrator asked for that cannot be done; the message is French, names the element."""
