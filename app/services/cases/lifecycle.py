"""Case use cases: start, complete a task, fire timers, deliver messages. Each owns one transaction.

After every engine step `apply_step` writes, in the same transaction: the serialized workflow, the business
columns, the task rows, the audit events and the outbox messages.

Why one module over 400 lines: the entry points of a step (start, complete, timers, messages, retry) and
`apply_step`, which writes what every one of them produced, are one rule (one transaction, the case row lock
first); the step context the handlers use sits with them. Read-only helpers live elsewhere (view, search).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC

from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app import clock
from app.engine import SERIALIZER_VERSION, CaseWorkflow, MoveRefused, StepContext, StepResult
from app.extensions import db
from app.forms.fields import validate_submission
from app.models import BUSINESS_FIELDS, Case, SequenceCounter, TaskRow, User, WorkflowState
from app.services.core import audit, definitions, rollup, step_writes
from app.services.core.case_lock import holds, keep_ready_after, lock_case, lock_task_case, ready_rows, refresh_task
from app.services.core.case_rules import SEVERITY_PRIORITY, check_data_size, column_value, status_of
from app.services.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.core.handlers import HANDLERS
from app.services.core.metrics import ENGINE_STEP
from app.services.core.transaction import transaction, use_case
from app.services.deadlines import clocks
from app.services.messaging import messages
from app.services.tasks.actions import actionable_row
from app.vocabulary import PARIS

SYSTEM = "system"
log = logging.getLogger("reclamations.cases")


# --- references ---------------------------------------------------------------------------------------

def allocate_reference(prefix: str) -> str:
    """Next reference like REC-2026-000123, from a per prefix and year counter row (atomic on every backend)."""
    year = clock.now().year
    name = f"{prefix}-{year}"
    stmt = (update(SequenceCounter).where(SequenceCounter.name == name)
            .values(value=SequenceCounter.value + 1).returning(SequenceCounter.value))
    value = db.session.execute(stmt).scalar()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.add(SequenceCounter(name=name, value=0))
        except IntegrityError:
            pass  # another transaction created it first
        value = db.session.execute(stmt).scalar()
    return f"{name}-{value:06d}"


# --- the step context given to service-task handlers --------------------------------------------------

class CaseContext(StepContext):
    """Collects what handlers ask for; effects are kept only for handlers that succeed."""

    def __init__(self, case: Case, actor: str, prefix: str | None = None):
        self.case = case
        self.actor = actor
        self.prefix = prefix  # a case being created gets its reference when first asked (see create_case)
        self.effects: list[tuple] = []
        self._pending: list[tuple] = []
        self.started = time.perf_counter()  # a context per step: the engine step duration starts here

    @property
    def reference(self) -> str:
        if self.case.reference is None:
            self.case.reference = allocate_reference(self.prefix)
        return self.case.reference

    has_parent = property(lambda self: self.case.parent_id is not None)
    utc = UTC

    def now(self):
        return clock.now()

    def call_handler(self, topic, properties, data, bpmn_id):
        fn = HANDLERS.get(topic)
        if fn is None:
            raise LookupError(f"Aucun gestionnaire enregistré pour la tâche de service « {topic} »")
        self._pending = []
        updates = fn(self, properties, data)
        self.effects.extend((*effect, bpmn_id) for effect in self._pending)
        self._pending = []
        return updates

    def send_message(self, template: str, data: dict, channel: str | None = None) -> None:
        self._pending.append(("message", template, dict(data), channel))

    def start_child_case(self, process: str, data: dict) -> str:
        definition = definitions.active(process)
        pspec = definitions.spec_for(definition)
        reference = allocate_reference(pspec.properties.get("reference_prefix") or process[:3].upper())
        self._pending.append(("child", process, data, reference))
        return reference

    def message_parent(self, name: str, payload: dict) -> None:
        self._pending.append(("parent_message", name, payload))

    def record_actions(self, specs: list[dict]) -> None:
        self._pending.append(("actions", specs))

    def clock(self, action: str, **values) -> None:
        """Start or stop a deadline clock (applied by clocks.after_step)."""
        self._pending.append(("clock", action, values))

    def notify(self, props: dict) -> None:
        """Notify staff (applied by clocks.after_step)."""
        self._pending.append(("notify", props))


# --- use cases ------------------------------------------------------------------------------------------

def start_case(user: User, process_key: str, raw_data: dict, *, html: bool = False) -> Case:
    """Start a case of the active version of a process with its validated start form."""
    definition = definitions.active(process_key)
    pspec = definitions.spec_for(definition)
    if pspec.start_lane and not user.in_any(pspec.start_lane):
        raise Forbidden(f"Seul le groupe « {pspec.start_lane} » peut ouvrir un dossier « {process_key} ».")
    clean, errors = validate_submission(pspec.start_form, raw_data or {}, html=html)
    errors.update(future_received_date(clean))
    if errors:
        raise Invalid(errors)
    check_data_size(clean)
    with transaction():
        return create_case(user.username, process_key, clean)


FUTURE_RECEIPT_MESSAGE = "La date de réception ne peut pas être postérieure à aujourd’hui."


def future_received_date(clean: dict) -> dict:
    """{received_at: message} when the received date is after today in Paris (a typo that would shift deadlines)."""
    received = clean.get("received_at")
    if isinstance(received, str) and received[:10] > clock.now().astimezone(PARIS).date().isoformat():
        return {"received_at": FUTURE_RECEIPT_MESSAGE}
    return {}


def create_case(actor: str, process_key: str, data: dict, *, parent: Case | None = None,
                reference: str | None = None) -> Case:
    """Create and run a case in the current transaction (no permission check: callers do it)."""
    definition = definitions.active(process_key)
    pspec = definitions.spec_for(definition)
    now = clock.now()
    data = {k: v for k, v in data.items() if v not in (None, "")}
    data.setdefault("received_at", now.isoformat())
    check_data_size(data)
    # The engine runs before the transaction's first write: the reference counter (an UPDATE) and the case
    # row come after it, so no write lock (SQLite) or counter row lock (PostgreSQL) is held while the
    # process's scripts run. A handler that needs the reference during the step (opening a dispute) gets
    # it then, under the same step budget.
    case = Case(
        reference=reference, process_key=process_key, definition_id=definition.id, status="open", created_at=now,
        updated_at=now, created_by=actor, tracking_token=secrets.token_urlsafe(24),
        parent_id=parent.id if parent else None, data={},
    )
    context = CaseContext(case, actor, prefix=pspec.properties.get("reference_prefix") or process_key[:3].upper())
    workflow, result = CaseWorkflow.start(pspec, data, context)
    case.reference = context.reference
    db.session.add(case)
    db.session.flush()
    audit.record(case, actor, "case_started", data={
        "process": process_key, "version": definition.version, "definition_sha256": definition.sha256,
        "data": data, "parent": parent.reference if parent else None})
    apply_step(case, workflow, result, context, actor, event="engine_steps", event_data={})
    return case


def complete_task(user: User, task_id: str, raw_data: dict, *, html: bool = False) -> Case:
    """Complete a ready task with form data: 422 invalid, 409 no longer ready, 403 not the user's lane."""
    with transaction():
        # First: the state and holder checked next are the committed ones. The row is kept (the session's
        # identity map holds objects weakly): actionable_row finds it there instead of reading it again.
        row = lock_task_case(task_id, for_step=True)
        return complete_row(actionable_row(user, row.id), user.username, raw_data, html=html, refreshed=True)


@use_case
def complete_row(row: TaskRow, actor: str, raw_data: dict, *, html: bool = False, refreshed: bool = False) -> Case:
    """Complete a ready task row as `actor` with no lane or holder check: callers check (public survey page).

    `refreshed`: the caller re-read the row after taking the case lock (lock_task_case), so it is not read again.
    """
    case = lock_case(row.case_id)  # before any read or write of the case's rows (a no-op if already held)
    if not refreshed:
        refresh_task(row)
    if row.state != "ready":
        raise Conflict("Cette tâche a déjà été traitée.", completed_by=row.completed_by)
    task_id = row.id
    context = CaseContext(case, actor)
    workflow = load_workflow(case, context)
    ready = workflow.find_ready(task_id)
    if ready is None:
        raise Conflict("Cette tâche n'est plus à traiter.")
    form = workflow.form_of(ready)
    clean, errors = validate_submission(form, raw_data or {}, html=html)
    if errors:
        raise Invalid(errors)
    for spec in form:  # an optional boolean left out is an unticked box, as in the HTML form: a gateway can read it
        if spec.type == "boolean" and not spec.required and not spec.readonly and spec.name not in clean:
            clean[spec.name] = spec.default == "true"
    check_data_size(clean)
    before = dict(case.data or {})
    result = workflow.complete(task_id, clean)
    now = clock.now()
    row.state, row.completed_at, row.completed_by, row.draft = "completed", now, actor, None
    row.assignee = row.assignee or actor
    apply_step(case, workflow, result, context, actor, event="task_completed", task=row,
           event_data={"submitted": clean}, before=before)
    return case


def fire_due_timers(limit: int = 100) -> list[str]:
    """Fire every case timer due by the application clock, one transaction per case; return the references.

    One bad case never stops the pass: a failure outside the engine (a stored state that cannot be read, a
    value the database refuses) rolls back that case's transaction, puts the case in incident in a
    transaction of its own, and the pass goes on with the next case. (The same pattern for every queue:
    the outbox sender, and the mail fetcher: catch per item, mark the item, continue.)
    """
    fired, seen = [], set()
    while len(seen) < limit:
        current: list[int] = []
        # Strictly before now: SpiffWorkflow fires a timer only once its time has passed.
        # The case row lock first, as in every case change (case_lock); a case held elsewhere waits a pass.
        query = (select(Case).where(Case.next_timer_at < clock.now(), Case.completed.is_(False),
                                    Case.incident.is_(None), Case.id.not_in(seen or [0]))
                 .order_by(Case.next_timer_at).limit(1).with_for_update(skip_locked=True, of=Case)
                 .execution_options(populate_existing=True))
        try:
            with transaction():
                case = db.session.scalars(query).first()
                if case is None:
                    break
                seen.add(case.id)
                current.append(case.id)
                reference = case.reference
                _fire(case)
            fired.append(reference)
        except Conflict:
            continue  # someone else moved the case meanwhile: the next pass sees its new timer
        except Exception as exc:  # noqa: BLE001 - one poisoned case must not stop the others' timers
            if not current:
                raise  # the query itself failed (database lost): the worker retries the whole pass
            log.exception("timer of case %s failed", current[0])
            mark_incident(current[0], f"Minuteur non déclenché : {type(exc).__name__}: {str(exc)[:500]}")
    return fired


def mark_incident(case_id: int, message: str) -> None:
    """Put a case in incident after a failure outside the engine, in a transaction of its own (best effort)."""
    try:
        with transaction():
            case = lock_case(case_id)
            case.incident = message[:2000]
            case.updated_at = clock.now()
            audit.record(case, SYSTEM, "incident", data={"error": message[:2000]})
    except Exception:  # noqa: BLE001 - logged; the case stays out of this pass (and in the log for an admin)
        log.exception("case %s could not be marked in incident", case_id)


def _fire(case: Case) -> Case:
    context = CaseContext(case, SYSTEM)
    workflow = load_workflow(case, context)
    before = dict(case.data or {})
    result = workflow.fire_timers()
    timers = [p for p in result.path if "Event" in p["type"]]
    apply_step(case, workflow, result, context, SYSTEM, event="timer_fired" if timers else "timer_checked",
           event_data={"due": case.next_timer_at.isoformat() if case.next_timer_at else None}, before=before)
    return case


def deliver_message(case: Case, name: str, payload: dict, actor: str, *, record_ignored: bool = True) -> bool:
    """Deliver a BPMN message to a case in the current transaction; False when the case does not wait for it
    (recorded as `message_ignored` unless `record_ignored` is False: a complainant's e-mail is on the timeline
    anyway, whether or not a step waited for it)."""
    case = lock_case(case.id)
    context = CaseContext(case, actor)
    workflow = load_workflow(case, context)
    if not workflow.waits_for_message(name):
        if record_ignored:
            audit.record(case, actor, "message_ignored", data={"message": name, "payload": payload})
        return False
    before = dict(case.data or {})
    result = workflow.deliver_message(name, payload)
    apply_step(case, workflow, result, context, actor, event="message_received",
           event_data={"message": name, "payload": payload}, before=before)
    return True


def retry_incident(user: User, reference: str) -> Case:
    """Run again the step that failed (after a fix) and clear the incident if it now passes."""
    if not user.is_admin:
        raise Forbidden("Réservé aux administrateurs.")
    with transaction():
        case = lock_case(get_case(reference).id)
        if not case.incident:
            raise Conflict("Ce dossier n'est pas en incident.")
        context = CaseContext(case, user.username)
        workflow = load_workflow(case, context)
        before = dict(case.data or {})
        result = workflow.retry_errors()
        apply_step(case, workflow, result, context, user.username, event="incident_retried", event_data={},
               before=before)
        return case


def token_targets(user: User, reference: str) -> dict[str, dict[str, str]]:
    """Where an administrator may move the case's tokens: {held element: {target id: label}}."""
    if not user.is_admin:
        raise Forbidden("Réservé aux administrateurs.")
    case = get_case(reference)
    return load_workflow(case, CaseContext(case, user.username)).token_targets()


def token_choices(user: User, reference: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """For the repair page, from one load: the elements holding a token {id: label} and their targets."""
    if not user.is_admin:
        raise Forbidden("Réservé aux administrateurs.")
    case = get_case(reference)
    workflow = load_workflow(case, CaseContext(case, user.username))
    return workflow.token_holders(), workflow.token_targets()


def move_token(user: User, reference: str, from_bpmn_id: str, to_bpmn_id: str, reason: str) -> Case:
    """Move the token held at one element to any flow node of the case's version (back to a step passed long
    ago, into a subprocess already left, on past the held one), with a reason; recorded on the audit trail
    (token_moved) and replayed by the audit replay."""
    if not user.is_admin:
        raise Forbidden("Réservé aux administrateurs.")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise Invalid({"reason": "Indiquez la raison du déplacement (5 caractères au moins) : elle est tracée."})
    with transaction():
        case = lock_case(get_case(reference).id)
        if case.completed:
            raise Conflict("Ce dossier est terminé.")
        context = CaseContext(case, user.username)
        workflow = load_workflow(case, context)
        before = dict(case.data or {})
        try:
            result = workflow.move_token(from_bpmn_id, to_bpmn_id)
        except MoveRefused as exc:
            raise Invalid({"to": f"Déplacement impossible vers « {to_bpmn_id} » : {exc}"}) from None
        except LookupError:
            raise Invalid({"from": f"Déplacement impossible : aucun jeton n'est à « {from_bpmn_id} » dans ce "
                                   "dossier."}) from None
        apply_step(case, workflow, result, context, user.username, event="token_moved",
                   event_data={"from": from_bpmn_id, "to": to_bpmn_id, "reason": reason[:1000],
                               "incident": case.incident}, before=before)
        return case


# --- helpers ----------------------------------------------------------------------------------------------

def get_case(reference: str) -> Case:
    case = db.session.scalars(select(Case).where(Case.reference == reference)).first()
    if case is None:
        raise NotFound("Dossier inconnu.")
    return case


def load_workflow(case: Case, context: StepContext) -> CaseWorkflow:
    state = case.workflow_state
    return CaseWorkflow.load(definitions.spec_for(case.definition), state.state, context, data=case.data or {})


def apply_step(case: Case, workflow: CaseWorkflow, result: StepResult, context: CaseContext, actor: str, *,
               event: str, event_data: dict, task: TaskRow | None = None, before: dict | None = None) -> None:
    """Write everything one engine step produced, in the current transaction."""
    ready_rows = ready_task_rows(case)
    # The step's events (clocks, step, status) and its letters' `message_sent` by one INSERT at the block's end.
    with audit.batched():
        # The clocks may hold or shift timers: before the dump.
        clocks.after_step(case, workflow, result, context, actor, existing=set(ready_rows))
        now = clock.now()
        data = result.data
        save_state(case, workflow.dump(), now)

        old_status = case.status
        for name in BUSINESS_FIELDS:
            if name in data:
                setattr(case, name, column_value(name, data[name]))
        case.status = status_of(data, result.completed)
        if case.status == "closed" and case.closed_at is None:
            case.closed_at = now
        case.completed = result.completed
        case.stage = ", ".join(t.name for t in result.ready)[:500]
        case.next_timer_at = result.next_timer_at
        case.data = dict(data)
        case.updated_at = now
        case.incident = str(result.error)[:2000] if result.error else None

        changes = {k: [(before or {}).get(k), v] for k, v in data.items() if (before or {}).get(k) != v} \
            if before is not None else {}
        audit.record(case, actor, event, task_id=task.id if task else None, bpmn_id=task.bpmn_id if task else None,
                     data={**event_data, "path": result.path, "changes": changes})
        if result.error:
            audit.record(case, actor, "incident", bpmn_id=result.error.bpmn_id, data={"error": str(result.error)})
        if old_status != case.status:
            audit.record(case, actor, "status_changed", data={"from": old_status, "to": case.status})
        _sync_tasks(case, result, now, ready_rows)
        _run_effects(case, context, actor)
    step_writes.write(case)  # the case row and its task rows by prebuilt statements, not at the flush
    ENGINE_STEP.labels(event).observe(time.perf_counter() - context.started)


_READY_ROWS = select(TaskRow).where(TaskRow.case_id == bindparam("case_id"), TaskRow.state == "ready")


def ready_task_rows(case: Case) -> dict[str, TaskRow]:
    """The case's task rows still ready, by id, read once for the clocks and the task sync. Without an autoflush
    (one flush per step, at commit): the session's own changes are applied here instead, so a row completed in
    this transaction is left out and a new one not flushed yet is counted."""
    kept = ready_rows(case.id)  # read with the completed task's row, under the lock (case_lock.lock_task_case)
    with db.session.no_autoflush:
        rows = {r.id: r for r in (db.session.scalars(_READY_ROWS, {"case_id": case.id}) if kept is None else kept)
                if r.state == "ready"}
    if holds(case.id):  # read under the case's lock: what they contribute before is what they hold now (rollup)
        for row in rows.values():
            rollup.read_fresh(db.session, row)
    rows.update({obj.id: obj for obj in db.session.new
                 if isinstance(obj, TaskRow) and obj.case_id == case.id and obj.state == "ready"})
    return rows


_SAVE_STATE = (update(WorkflowState.__table__).where(WorkflowState.__table__.c.case_id == bindparam("key"))
               .values(state=bindparam("state"), serializer_version=bindparam("version"),
                       updated_at=bindparam("at")))


def save_state(case: Case, dumped: str, now) -> None:
    """Store the case's serialized workflow: a prebuilt UPDATE on the session's connection (no unit of work for
    the largest value of the step), the loaded object then set to what was written; a new case's state, or one
    with pending changes, goes through the ORM."""
    state = case.workflow_state
    if state is None:
        state = case.workflow_state = WorkflowState(case_id=case.id)
    info = inspect(state)
    if not info.persistent or info.modified:
        state.state, state.serializer_version, state.updated_at = dumped, SERIALIZER_VERSION, now
        return
    with db.session.no_autoflush:  # the step's other writes wait for the one flush at commit
        db.session.execute(_SAVE_STATE, {"key": case.id, "state": dumped, "version": SERIALIZER_VERSION, "at": now})
    for name, value in (("state", dumped), ("serializer_version", SERIALIZER_VERSION), ("updated_at", now)):
        set_committed_value(state, name, value)


def _sync_tasks(case: Case, result: StepResult, now, rows: dict[str, TaskRow]) -> None:
    """Make the task table match the workflow's ready human tasks (`rows`: the case's ready rows, by id)."""
    ready_ids = {t.id for t in result.ready}
    kept = list(rows.values())  # as the step leaves them (its reply: case_lock.ready_after)
    for task_id, row in rows.items():
        if task_id not in ready_ids:
            row.state, row.completed_at = "cancelled", now
    for t in result.ready:
        row = rows.get(t.id)
        if row is None:
            row = TaskRow(
                id=t.id, case_id=case.id, case_reference=case.reference, process_key=case.process_key,
                bpmn_id=t.bpmn_id, name=t.name[:300], lane=t.lane, state="ready", due_at=case.due_at,
                assignee=t.assignee, claimed_at=now if t.assignee else None,  # camunda:assignee
                priority=SEVERITY_PRIORITY.get(case.severity or "", 0), customer_name=case.customer_name,
                channel=case.channel, created_at=now)  # the other filter columns: copied by rollup.before_flush
            db.session.add(row)
            kept.append(row)
        else:
            row.due_at, row.customer_name = case.due_at, case.customer_name
            row.name, row.lane = t.name[:300], t.lane  # a migration may rename the step or move its lane
            row.priority = SEVERITY_PRIORITY.get(case.severity or "", 0)
    keep_ready_after(case.id, kept)


def _run_effects(case: Case, context: CaseContext, actor: str) -> None:
    """Carry out what the step's handlers asked for: messages, linked cases, messages to the parent case."""
    effects, context.effects = context.effects, []
    # The letters' facts first (answered, survey sent: the clock is pinned, so the same instant): the first
    # template query's flush writes them with the step's case update, one UPDATE of the case row per step.
    # No letter's text reads them.
    for effect in effects:
        if effect[0] == "message":
            rollup.message_sent(case, effect[1], clock.now())
    letters = [effect[1] for effect in effects if effect[0] == "message"]
    active = messages.active_templates(letters) if len(letters) > 1 else {}  # one read for all the letters
    for effect in effects:
        kind, bpmn_id = effect[0], effect[-1]
        if kind != "message":
            audit.write_held()  # a linked case, an action or the parent's step may read the audit table
        if kind == "message":
            message = messages.queue(case, effect[1], effect[2], channel=effect[3],  # its id known: no flush
                                     active=active.get(effect[1]))
            audit.record(case, actor, "message_sent", bpmn_id=bpmn_id, data={
                "template": message.template, "channel": message.channel, "recipient": message.recipient,
                "subject": message.subject, "outbox_id": message.id,
                "template_version_id": message.template_version_id})
        elif kind == "child":
            child = create_case(actor, effect[1], effect[2], parent=case, reference=effect[3])
            audit.record(case, actor, "dispute_opened", bpmn_id=bpmn_id,
                         data={"reference": child.reference, "process": effect[1]})
        elif kind == "actions":
            from app.services.quality.capa import create_from_process

            create_from_process(case, effect[1], actor, bpmn_id)
        elif kind == "parent_message" and case.parent_id:
            parent = db.session.get(Case, case.parent_id)
            deliver_message(parent, effect[1], {**effect[2], "from": case.reference}, actor)
