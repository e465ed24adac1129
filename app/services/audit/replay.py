"""Rebuild a case's state at any event or moment by replaying its recorded inputs on the pinned version.

The inputs come from the audit log only, never from the stored workflow: the start data, the data submitted
to each task, timer firings at their recorded time, delivered messages, retries, claims and migrations. The
service-task handlers run again (same code) through a ReplayContext that computes their results and discards
their effects: no outbox message, no child case, no message to a parent case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app import clock, formatting
from app.engine import TIMER_TYPES, CaseWorkflow, StepContext, StepResult
from app.engine import migration as engine_migration
from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition
from app.services.core import audit, definitions
from app.services.core.case_rules import status_of
from app.services.core.errors import Invalid, NotFound, ServiceError
from app.services.core.handlers import HANDLERS

INPUTS: dict[str, Callable[[Replay, AuditEvent], StepResult | None]] = {}
# Events that only record what a step produced (outputs) or change nothing the replay rebuilds.
OUTPUTS = {"engine_steps", "status_changed", "message_sent", "dispute_opened", "incident", "message_ignored"}


class ReplayError(ServiceError):
    """The recorded inputs cannot be replayed (missing start, unknown definition, lost task)."""

    status = 409


def replays(*types: str):
    """Register how an event type is replayed (other modules may teach the replay their own inputs)."""
    def register(fn):
        for type_ in types:
            INPUTS[type_] = fn
        return fn
    return register


class ReplayContext(StepContext):
    """The handlers' view of a case during a replay: same answers, effects discarded."""

    utc = UTC

    def __init__(self, reference: str, has_parent: bool, disputes: list[str]):
        self.reference = reference
        self.has_parent = has_parent
        self._disputes = list(disputes)

    def now(self):
        return clock.now()

    def call_handler(self, topic, properties, data, bpmn_id):
        fn = HANDLERS.get(topic)
        if fn is None:
            raise LookupError(f"Aucun gestionnaire enregistré pour la tâche de service « {topic} »")
        return fn(self, properties, data)

    def send_message(self, template: str, data: dict, channel: str | None = None) -> None:
        return None  # already in the outbox and the audit log

    def message_parent(self, name: str, payload: dict) -> None:
        return None  # the parent's own log records the delivery

    def record_actions(self, specs: list[dict]) -> None:
        return None  # the CAPA register already holds them (capa_actions_created)

    def start_child_case(self, process: str, data: dict) -> str:
        """The reference the original step obtained: the case's recorded dispute_opened events, in order."""
        if not self._disputes:
            raise ReplayError("Référence du dossier lié introuvable dans le journal.")
        return self._disputes.pop(0)

    def __getattr__(self, name):
        # Effects added to CaseContext later are discarded the same way; one whose return value matters
        # must be taught here (a wrong value would show as a replay difference, never silently).
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


@dataclass
class ReplayedTask:
    bpmn_id: str
    name: str
    lane: str | None
    holder: str | None
    recorded_id: str | None

    def to_json(self) -> dict:
        return {"bpmn_id": self.bpmn_id, "name": self.name, "lane": self.lane, "holder": self.holder,
                "task_id": self.recorded_id}


@dataclass
class CaseState:
    """A case as it was after one event, rebuilt by replay."""

    reference: str
    seq: int
    at: datetime | None
    process: str
    version: int | None
    definition_id: int
    data: dict
    ready: list[ReplayedTask]
    status: str
    completed: bool
    incident: str | None
    next_timer_at: datetime | None
    waiting: list[dict]
    path: list[str]
    active: list[str]
    not_replayed: list[dict] = field(default_factory=list)

    @property
    def visits(self) -> dict[str, int]:
        return dict(Counter(self.path))

    @property
    def due_at(self):
        return self.data.get("due_at")

    def to_json(self) -> dict:
        """A JSON-ready view (API and page)."""
        return {
            "reference": self.reference, "seq": self.seq, "at": _iso(self.at), "process": self.process,
            "version": self.version, "definition_id": self.definition_id, "status": self.status,
            "completed": self.completed, "incident": self.incident, "data": self.data,
            "ready": [t.to_json() for t in self.ready],
            "clocks": {"due_at": self.due_at, "next_timer_at": _iso(self.next_timer_at),
                       "timers": [w for w in self.waiting if w.get("type") in TIMER_TYPES]},
            "waiting": self.waiting, "completed_elements": self.path, "visits": self.visits,
            "active": self.active, "not_replayed": self.not_replayed,
        }


def _iso(value):
    return value.isoformat() if value is not None else None


class Replay:
    """Replays one case's events in order; `state()` describes where it stands."""

    def __init__(self, case: Case, events: list[AuditEvent]):
        if not events or events[0].type != "case_started":
            raise ReplayError("Le journal ne commence pas par l'ouverture du dossier.")
        self.case = case
        self.events = events
        self.definition = self.definition_for(events[0].definition_id, events[0].data.get("definition_sha256"))
        self.pspec = definitions.spec_for(self.definition)
        disputes = [e.data.get("reference") for e in events if e.type == "dispute_opened"]
        self.context = ReplayContext(case.reference, case.parent_id is not None, disputes)
        self.workflow: CaseWorkflow | None = None
        self.ids: dict[str, str] = {}        # recorded task id -> replayed task id
        self.holders: dict[str, str] = {}    # replayed task id -> username
        self.path: list[str] = []
        self.incident: str | None = None
        self.event: AuditEvent | None = None
        self.not_replayed: list[dict] = []
        self.ready = None

    @staticmethod
    def definition_for(definition_id: int | None, sha256: str | None) -> ProcessDefinition:
        definition = db.session.get(ProcessDefinition, definition_id) if definition_id else None
        if definition is None:
            raise ReplayError(f"Version de processus {definition_id} introuvable.")
        if sha256 and definition.sha256 != sha256:
            raise ReplayError(f"La version {definition.version} a changé depuis l'ouverture (empreinte différente).")
        return definition

    def apply(self, event: AuditEvent) -> None:
        """Replay one event at its recorded time (outputs are skipped)."""
        self.event = event
        fn = INPUTS.get(event.type)
        if fn is None:
            if event.type not in OUTPUTS and (event.data or {}).get("changes"):
                self.not_replayed.append({"seq": event.seq, "type": event.type})
            return
        with clock.pinned(event.at):
            result = fn(self, event)
        if result is not None:
            # Claims between steps reuse the step's ready list: walking a long task tree again costs.
            self.ready = result.ready
            self.path.extend(p["bpmn_id"] for p in result.path)
            self.incident = str(result.error)[:2000] if result.error else None

    def run(self, until: int | None = None) -> CaseState:
        """Replay every event up to seq `until` (all by default) and return the state then."""
        for event in self.events:
            if until is not None and event.seq > until:
                break
            self.apply(event)
        return self.state()

    def resolve(self, event: AuditEvent) -> str:
        """The replayed task an event names: by recorded id once known, else the first unmatched ready task
        at the same element (Spiff gives new ids on replay)."""
        known = self.ids.get(event.task_id or "")
        ready = self.ready if self.ready is not None else self.workflow.ready_tasks()
        if known and any(t.id == known for t in ready):
            return known
        taken = set(self.ids.values())
        for task in ready:
            if task.bpmn_id == event.bpmn_id and task.id not in taken:
                if event.task_id:
                    self.ids[event.task_id] = task.id
                return task.id
        raise ReplayError(f"Événement {event.seq} : aucune tâche prête « {event.bpmn_id} » à rejouer.")

    def state(self) -> CaseState:
        """The replayed case as it stands now."""
        if self.workflow is None:
            raise ReplayError("Aucun événement rejoué.")
        snap = self.workflow.snapshot()
        recorded = {v: k for k, v in self.ids.items()}
        ready = [ReplayedTask(t.bpmn_id, t.name, t.lane, self.holders.get(t.id), recorded.get(t.id))
                 for t in snap.ready]
        return CaseState(
            reference=self.case.reference, seq=self.event.seq if self.event else 0,
            at=self.event.at if self.event else None, process=self.definition.key,
            version=self.definition.version, definition_id=self.definition.id, data=snap.data, ready=ready,
            status=status_of(snap.data, snap.completed), completed=snap.completed, incident=self.incident,
            next_timer_at=snap.next_timer_at, waiting=snap.waiting, path=list(self.path),
            active=self.workflow.active_elements(), not_replayed=list(self.not_replayed))


# --- the recorded inputs ---------------------------------------------------------------------------------

@replays("case_started")
def _started(replay: Replay, event: AuditEvent):
    replay.workflow, result = CaseWorkflow.start(replay.pspec, dict(event.data.get("data") or {}), replay.context)
    return result


@replays("task_completed")
def _completed(replay: Replay, event: AuditEvent):
    task_id = replay.resolve(event)
    result = replay.workflow.complete(task_id, dict(event.data.get("submitted") or {}))
    replay.holders.pop(task_id, None)
    return result


@replays("timer_fired", "timer_checked")
def _timers(replay: Replay, event: AuditEvent):
    return replay.workflow.fire_timers()


@replays("message_received")
def _message(replay: Replay, event: AuditEvent):
    return replay.workflow.deliver_message(event.data.get("message"), dict(event.data.get("payload") or {}))


@replays("incident_retried")
def _retried(replay: Replay, event: AuditEvent):
    return replay.workflow.retry_errors()


@replays("token_moved")
def _moved(replay: Replay, event: AuditEvent):
    data = event.data or {}
    return replay.workflow.move_token(data.get("from"), data.get("to"))


@replays("task_claimed", "task_reassigned")
def _claimed(replay: Replay, event: AuditEvent):
    replay.holders[replay.resolve(event)] = event.data.get("assignee")


@replays("task_released")
def _released(replay: Replay, event: AuditEvent):
    replay.holders.pop(replay.resolve(event), None)


@replays("case_migrated")
def _migrated(replay: Replay, event: AuditEvent):
    data = event.data or {}
    target = replay.definition_for(data.get("to_definition_id") or data.get("to"), data.get("to_sha256"))
    pspec = definitions.spec_for(target)
    # The process owners' migration itself: the replay runs the very code the migration ran.
    replay.workflow, result = engine_migration.migrate(replay.pspec, pspec, replay.workflow.dump(), replay.context,
                                                       data=replay.workflow.data)
    replay.definition, replay.pspec = target, pspec
    return result


# --- entry points --------------------------------------------------------------------------------------

def parse_at(events: list[AuditEvent], at: str | int | None) -> int:
    """The seq an `at` designates: a seq number, or a moment (the last event at or before it): French
    « 03/12/2026 08:40 » or ISO, Paris time unless the text names its offset."""
    if at in (None, ""):
        return events[-1].seq
    text = str(at).strip()
    if text.isdigit():
        seq = int(text)
        if not any(e.seq == seq for e in events):
            raise Invalid({"at": f"Événement {seq} inconnu pour ce dossier."})
        return seq
    try:
        moment = formatting.parse_datetime_paris(text)  # typed in Paris time: 03/12/2026 08:40 (or ISO)
    except ValueError:
        raise Invalid({"at": "Numéro d'événement ou date et heure attendus, par exemple 03/12/2026 08:40."}) from None
    before = [e.seq for e in events if e.at <= moment]
    if not before:
        raise Invalid({"at": "Le dossier n'existait pas encore à cette date."})
    return before[-1]


def case_by_reference(reference: str) -> Case:
    case = db.session.query(Case).filter(Case.reference == reference).first()
    if case is None:
        raise NotFound("Dossier inconnu.")
    return case


def state_at(reference: str, at: str | int | None = None) -> CaseState:
    """The case as it was after an event (seq) or at a moment (ISO time), rebuilt from its inputs."""
    case = case_by_reference(reference)
    events = audit.history(case.id)
    if not events:
        raise ReplayError("Aucun événement pour ce dossier.")
    return Replay(case, events).run(parse_at(events, at))


def replay_case(case: Case, events: list[AuditEvent] | None = None) -> CaseState:
    """Replay a whole case."""
    return Replay(case, events if events is not None else audit.history(case.id)).run()


def tokens_by_event(case: Case, events: list[AuditEvent]) -> dict[int, list[str]]:
    """The active elements after each event, from one replay pass (for stepping through the diagram)."""
    replay = Replay(case, events)
    found, active, last_ready = {}, [], None
    for event in events:
        replay.apply(event)
        if replay.ready is not last_ready:  # only an engine step moves tokens
            active, last_ready = replay.workflow.active_elements(), replay.ready
        found[event.seq] = active
    return found


@replays("clock_paused")
def _clock_paused(replay: Replay, event: AuditEvent) -> None:
    """A paused deadline clock holds the timers that read its variables (app/services/deadlines/clocks.py)."""
    replay.workflow.hold_timers(set(event.data.get("variables") or []))


@replays("clock_resumed")
def _clock_resumed(replay: Replay, event: AuditEvent) -> None:
    """A resumed clock writes its shifted dates and releases its timers, later by the paused time."""
    variables = set(event.data.get("variables") or [])
    if event.data.get("updates"):
        replay.workflow.update_data(dict(event.data["updates"]))
    replay.workflow.release_timers(variables, timedelta(seconds=int(event.data.get("paused_seconds") or 0)))
