"""The CAPA register: create, edit, change status, link complaints, and measure recurrence after completion."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select

from app import clock
from app.extensions import db
from app.labels import CAPA_KIND_LABELS, CAPA_STATUS_LABELS
from app.models import ACTION_KINDS, ACTION_STATUSES, Action, ActionCase, Case, User
from app.models.case import cause_key
from app.services.core import audit
from app.services.core.calendar import day_start, paris_day
from app.services.core.case_lock import lock_case
from app.services.core.errors import Forbidden, Invalid, NotFound
from app.services.core.rollup import period_ranges
from app.services.core.search import contains_pattern
from app.services.core.transaction import use_case
from app.vocabulary import CAPA_READERS, CAPA_WRITERS, is_read_only

WRITE_GROUPS = CAPA_WRITERS
READ_GROUPS = CAPA_READERS
KIND_LABELS = CAPA_KIND_LABELS
STATUS_LABELS = CAPA_STATUS_LABELS
LIST_LIMIT = 500


def can_read(user: User) -> bool:
    return user.in_any(*READ_GROUPS)


def can_write(user: User) -> bool:
    """qualite, responsable and admin change the register; auditors and direction only read it."""

    return user.in_any(*WRITE_GROUPS) and not is_read_only(user)


def _check(user: User, write: bool = False) -> None:
    if not (can_write(user) if write else can_read(user)):
        raise Forbidden("Le registre des actions est réservé à la qualité, aux responsables et à la direction."
                        if not write else "Vous pouvez consulter ce registre mais pas le modifier.")


def list_actions(user: User, *, status: str | None = None, kind: str | None = None, owner: str | None = None,
                 overdue: bool = False, q: str | None = None) -> list[tuple[Action, int]]:
    """Actions matching the filters with their number of linked complaints, most urgent first."""
    _check(user)
    linked = (select(ActionCase.action_id, func.count().label("n")).group_by(ActionCase.action_id).subquery())
    query = select(Action, func.coalesce(linked.c.n, 0)).outerjoin(linked, linked.c.action_id == Action.id)
    if status:
        query = query.where(Action.status == status)
    if kind:
        query = query.where(Action.kind == kind)
    if owner:
        query = query.where(Action.owner == owner)
    if overdue:
        query = query.where(Action.status.in_(("open", "in_progress")), Action.due_on < paris_day(clock.now()))
    if q:
        query = query.where(Action.title.ilike(contains_pattern(q), escape="\\"))  # % and _ taken literally
    query = query.order_by(Action.status.in_(("done", "cancelled")), Action.due_on.is_(None), Action.due_on,
                           Action.id).limit(LIST_LIMIT)
    return [(a, n) for a, n in db.session.execute(query)]


def get_action(user: User, action_id: int) -> Action:
    _check(user)
    action = db.session.get(Action, action_id)
    if action is None:
        raise NotFound("Action inconnue.")
    return action


def linked_cases(action: Action) -> list[Case]:
    return list(db.session.scalars(select(Case).join(ActionCase, ActionCase.case_id == Case.id)
                                   .where(ActionCase.action_id == action.id).order_by(Case.received_at)))


def _clean(data: dict, partial: bool = False) -> dict:
    """Validated action fields from a form or JSON body; Invalid lists every problem."""
    errors, out = {}, {}
    kind = (data.get("kind") or "").strip()
    if kind not in ACTION_KINDS:
        errors["kind"] = "Choisissez curative, corrective ou préventive."
    out["kind"] = kind
    title = (data.get("title") or "").strip()
    if not title or len(title) > 200:
        errors["title"] = "Intitulé obligatoire (200 caractères au plus)."
    out["title"] = title
    owner = (data.get("owner") or "").strip()
    if not owner or len(owner) > 200:
        errors["owner"] = "Responsable obligatoire."
    out["owner"] = owner
    due = data.get("due_on")
    if isinstance(due, date):
        out["due_on"] = due
    elif due:
        try:
            out["due_on"] = date.fromisoformat(str(due).strip())
        except ValueError:
            errors["due_on"] = "Date attendue au format AAAA-MM-JJ."
    else:
        errors["due_on"] = "Échéance obligatoire."
    for name, limit in (("description", 5000), ("category", 60), ("root_cause", 2000), ("effectiveness", 5000)):
        value = (data.get(name) or "").strip()
        if len(value) > limit:
            errors[name] = f"{limit} caractères au plus."
        out[name] = value
    if errors:
        raise Invalid(errors)
    out["category"] = out["category"] or None
    out["root_cause"] = out["root_cause"] or None
    return out


@use_case
def create_action(user: User, data: dict, case_references: list[str] | None = None) -> Action:
    """Create an action by hand, optionally linked to complaints by reference."""
    _check(user, write=True)
    fields = _clean(data)
    cases = [_case_by_reference(r) for r in case_references or [] if r.strip()]
    now = clock.now()
    action = Action(**fields, status="open", created_at=now, updated_at=now, created_by=user.username)
    db.session.add(action)
    db.session.flush()
    for case in cases:
        _link(action, case, user.username)
    audit.record(None, user.username, "capa_action_created", data={"action": action.id, "kind": action.kind,
                                                                  "title": action.title})
    return action


@use_case
def update_action(user: User, action_id: int, data: dict) -> Action:
    """Edit an action's fields (not its status)."""
    action = get_action(user, action_id)
    _check(user, write=True)
    fields = _clean(data)
    changes = {k: [str(getattr(action, k)), str(v)] for k, v in fields.items() if getattr(action, k) != v}
    for key, value in fields.items():
        setattr(action, key, value)
    action.updated_at = clock.now()
    if changes:
        audit.record(None, user.username, "capa_action_updated", data={"action": action.id, "changes": changes})
    return action


@use_case
def change_status(user: User, action_id: int, status: str, effectiveness: str | None = None) -> Action:
    """Move an action to another status; done stamps completed_at, leaving done clears it."""
    action = get_action(user, action_id)
    _check(user, write=True)
    if status not in ACTION_STATUSES:
        raise Invalid({"status": "Statut inconnu."})
    if effectiveness is not None and len(effectiveness) > 5000:
        raise Invalid({"effectiveness": "5000 caractères au plus."})
    old = action.status
    now = clock.now()
    action.status = status
    action.completed_at = (action.completed_at or now) if status == "done" else None
    if effectiveness is not None and effectiveness.strip():
        action.effectiveness = effectiveness.strip()
    action.updated_at = now
    audit.record(None, user.username, "capa_status_changed", data={"action": action.id, "from": old, "to": status})
    return action


def _case_by_reference(reference: str) -> Case:
    case = db.session.scalars(select(Case).where(Case.reference == reference.strip())).first()
    if case is None:
        raise Invalid({"reference": f"Dossier inconnu : {reference.strip()[:40]}"})
    return case


def _link(action: Action, case: Case, actor: str) -> bool:
    exists = db.session.scalar(select(ActionCase.id).where(ActionCase.action_id == action.id,
                                                           ActionCase.case_id == case.id))
    if exists:
        return False
    db.session.add(ActionCase(action_id=action.id, case_id=case.id, linked_at=clock.now(), linked_by=actor))
    return True


@use_case
def link_case(user: User, action_id: int, reference: str) -> Action:
    """Link a complaint to an action (linking twice changes nothing)."""
    action = get_action(user, action_id)
    _check(user, write=True)
    case = lock_case(_case_by_reference(reference or "").id)  # the case row lock first (case_lock)
    if _link(action, case, user.username):
        audit.record(case, user.username, "capa_linked", data={"action": action.id, "title": action.title})
    return action


@use_case
def unlink_case(user: User, action_id: int, reference: str) -> Action:
    """Remove the link between a complaint and an action."""
    action = get_action(user, action_id)
    _check(user, write=True)
    case = lock_case(_case_by_reference(reference or "").id)
    link = db.session.scalars(select(ActionCase).where(ActionCase.action_id == action.id,
                                                       ActionCase.case_id == case.id)).first()
    if link is None:
        raise NotFound("Ce dossier n'est pas lié à cette action.")
    db.session.delete(link)
    audit.record(case, user.username, "capa_unlinked", data={"action": action.id})
    return action


def create_from_process(case: Case, specs: list[dict], actor: str, bpmn_id: str | None) -> list[Action]:
    """Create the actions a process step asked for, linked to its case (in the caller's transaction)."""
    now = clock.now()
    created = []
    for spec in specs:
        action = Action(kind=spec["kind"], title=spec["title"][:200], description=spec.get("description", ""),
                        owner=spec["owner"][:200], due_on=spec.get("due_on"), status="open",
                        category=case.category, root_cause=case.root_cause, source_case_id=case.id,
                        source_bpmn_id=bpmn_id, created_at=now, updated_at=now, created_by=actor)
        db.session.add(action)
        created.append(action)
    db.session.flush()
    for action in created:
        _link(action, case, actor)
    audit.record(case, actor, "capa_actions_created", bpmn_id=bpmn_id,
                 data={"actions": [{"id": a.id, "kind": a.kind, "title": a.title} for a in created]})
    return created


# --- recurrence ----------------------------------------------------------------------------------------

@dataclass
class Recurrence:
    measurable: bool
    after: int = 0
    before: int = 0
    days: int = 0
    recent: list | None = None


def _same_cause(action: Action):
    """Same category and the same root cause but for case and surrounding blanks."""
    return [Case.category == action.category, Case.root_cause_key == cause_key(action.root_cause)]


def recurrence(action: Action, now: datetime | None = None, recent: bool = True) -> Recurrence:
    """Complaints with the action's category and root cause received since its completion, and in as many days
    before it (excluding the complaints it addresses): did the action work?"""
    return _recurrences([action], now, recent)[0]


def _recurrences(actions: list[Action], now: datetime | None = None, recent: bool = False) -> list[Recurrence]:
    now = now or clock.now()
    out, measured = [], []
    for action in actions:
        if action.status != "done" or not action.completed_at or not action.category or not action.root_cause:
            out.append(Recurrence(measurable=False))
            continue
        done = action.completed_at
        span = now - done
        out.append(Recurrence(True, days=max(span // timedelta(days=1), 0)))
        measured.append((len(out) - 1, action, [(done, max(now, done)), (done - span, done)]))
    counts = _received_in([(action, windows) for _, action, windows in measured])
    for (i, action, _), (after, before) in zip(measured, counts, strict=True):
        out[i].after, out[i].before = after, before
        if recent:
            linked = select(ActionCase.case_id).where(ActionCase.action_id == action.id)
            out[i].recent = list(db.session.scalars(
                select(Case).where(*_same_cause(action), Case.id.not_in(linked), Case.received_at > action.completed_at)
                .order_by(Case.received_at.desc()).limit(20)))
    return out


def _midnight(d: date) -> datetime:
    return day_start(d)


def _received_in(requests: list[tuple[Action, list[tuple[datetime, datetime]]]]) -> list[list[int]]:
    """For each (action, windows) and each window (lo, hi]: complaints of the action's category and cause
    received in it, not linked to the action.

    Three queries whatever the number of actions: the partial first and last days of each window from the cases,
    the days strictly inside from the rollup's `cause` rows (month rows for whole months), and the linked
    complaints (the rollup counts them: they are taken out).
    """
    from app.models import CaseRollup

    counts = [[0] * len(windows) for _, windows in requests]
    edges, inside = [], []  # (request, window, lo excluded, hi included); (request, window, period, day, stop)
    for r, (_, windows) in enumerate(requests):
        for w, (lo, hi) in enumerate(windows):
            if hi <= lo:
                continue
            first, last = paris_day(lo), paris_day(hi)  # the rollup's days are Paris days
            edges.append((r, w, lo, min(hi, _midnight(first + timedelta(days=1)))))
            if last > first:
                edges.append((r, w, _midnight(last) - timedelta(microseconds=1), hi))
            if last - first > timedelta(days=1):
                inside += [(r, w, *p) for p in period_ranges(first + timedelta(days=1), last - timedelta(days=1))]
    if not edges:
        return counts
    keys = [(action.category, cause_key(action.root_cause)) for action, _ in requests]
    action_ids = [action.id for action, _ in requests]
    linked: dict[int, set[int]] = {}
    for action_id, case_id in db.session.execute(select(ActionCase.action_id, ActionCase.case_id)
                                                 .where(ActionCase.action_id.in_(action_ids))):
        linked.setdefault(action_id, set()).add(case_id)
    for case_id, category, key, received in db.session.execute(
            select(Case.id, Case.category, Case.root_cause_key, Case.received_at).where(or_(*(
                and_(Case.category == keys[r][0], Case.root_cause_key == keys[r][1], Case.received_at > lo,
                     Case.received_at <= hi) for r, _, lo, hi in edges)))):
        for r, w, lo, hi in edges:
            if keys[r] == (category, key) and lo < received <= hi and case_id not in linked.get(action_ids[r], ()):
                counts[r][w] += 1
    if inside:
        rows = db.session.execute(
            select(CaseRollup.category, CaseRollup.cause_key, CaseRollup.period, CaseRollup.day,
                   func.sum(CaseRollup.cases))
            .where(or_(*(  # each branch an index range: basis, period, category, cause, days
                and_(CaseRollup.basis == "cause", CaseRollup.period == period, CaseRollup.category == keys[r][0],
                     CaseRollup.cause_key == keys[r][1], CaseRollup.day >= a, CaseRollup.day < b)
                for r, _, period, a, b in inside)))
            .group_by(CaseRollup.category, CaseRollup.cause_key, CaseRollup.period, CaseRollup.day))
        by_key: dict[tuple, list] = {}
        for r, w, p, a, b in inside:
            by_key.setdefault((*keys[r], p), []).append((r, w, a, b))
        for category, key, period, day, n in rows:
            day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
            for r, w, a, b in by_key.get((category, key, period), ()):
                if a <= day < b:
                    counts[r][w] += int(n)
        all_linked = sorted(set().union(*linked.values())) if linked else []
        rows = db.session.execute(select(Case.id, Case.category, Case.root_cause_key, Case.received_at)
                                  .where(Case.id.in_(all_linked))) if all_linked else []
        for case_id, category, key, received in rows:
            day = paris_day(received) if received else None
            for r, w, _, a, b in inside:
                if day and case_id in linked.get(action_ids[r], ()) and keys[r] == (category, key) and a <= day < b:
                    counts[r][w] -= 1
    return counts


def recurrence_summary(limit: int = 20) -> list[dict]:
    """Recurrence for the most recently completed actions with a category and root cause (dashboard)."""
    actions = list(db.session.scalars(select(Action).where(
        Action.status == "done", Action.category.is_not(None), Action.root_cause.is_not(None))
        .order_by(Action.completed_at.desc(), Action.id.desc()).limit(limit)))
    out = []
    for action, r in zip(actions, _recurrences(actions), strict=True):
        out.append({"id": action.id, "title": action.title, "kind": action.kind, "category": action.category,
                    "root_cause": action.root_cause, "completed_at": action.completed_at.isoformat(),
                    "days": r.days, "before": r.before, "after": r.after})
    return out
