"""Staff notifications: reminders and escalations written by case steps, read in the app, e-mailed when configured."""

from __future__ import annotations

from sqlalchemy import bindparam, false, func, or_, select, update

from app import clock
from app.extensions import db
from app.models import Case, Notification, TaskRow, User
from app.services.core.errors import NotFound
from app.services.core.transaction import use_case
from app.vocabulary import NOTIFICATION_KINDS

KINDS = NOTIFICATION_KINDS


def _link(case: Case) -> str:
    return f"/dossiers/{case.reference}"  # the case page (app/cases)


def _text(template: str, case: Case, extra: dict | None = None) -> str:
    """Fill {reference}, {customer}, {due} in a BPMN-written text; unknown fields stay as written."""
    values = {"reference": case.reference, "customer": case.customer_name or "",
              "due": case.due_at.astimezone(clock.now().tzinfo).strftime("%d/%m/%Y") if case.due_at else "",
              **(extra or {})}
    try:
        return template.format_map(values)[:2000]
    except (KeyError, ValueError, IndexError):
        return template[:2000]


def add(*, text: str, kind: str = "info", username: str | None = None, group: str | None = None,
        case: Case | None = None, link: str | None = None) -> Notification:
    """Queue one notification for a user or a group, in the current transaction."""
    row = Notification(username=username, group_name=None if username else group, kind=kind, text=text,
                       case_id=case.id if case else None, link=link or (_link(case) if case else None),
                       created_at=clock.now())
    db.session.add(row)
    return row


def for_case_holders(case: Case, props: dict, bpmn_id: str | None) -> list[Notification]:
    """Notify whoever holds the case's open tasks: the assignee, else the task's group (`to` may name a group)."""
    text = _text(props.get("text") or "Dossier {reference}", case)
    kind = props.get("kind") or "info"
    target = (props.get("to") or "holders").strip()
    if target != "holders":
        return [add(text=text, kind=kind, group=target, case=case)]
    rows = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready"))
    sent, seen = [], set()
    for row in rows:
        key = ("user", row.assignee) if row.assignee else ("group", row.lane)
        if key in seen or key[1] is None:
            continue
        seen.add(key)
        sent.append(add(text=f"{text} — {row.name}", kind=kind, case=case,
                        username=row.assignee, group=row.lane))
    return sent


def for_new_task(case: Case, task) -> Notification:
    """Notify a task's group that a task asking for attention (property `notify`) has just appeared."""
    props = task.properties or {}
    kind = props.get("notify_kind") or "escalation"
    return add(text=_text(props["notify"], case), kind=kind if kind in KINDS else "info", group=task.lane,
               case=case)


def _visible(user: User):
    return or_(Notification.username == user.username,
               Notification.group_name.in_(user.groups) if user.groups else false())


_UNREAD = {  # built once (the top bar of every page asks): with the user's groups, and for a user without any
    True: select(func.count(Notification.id)).where(
        or_(Notification.username == bindparam("username"),
            Notification.group_name.in_(bindparam("groups", expanding=True))), Notification.read_at.is_(None)),
    False: select(func.count(Notification.id)).where(
        Notification.username == bindparam("username"), Notification.read_at.is_(None)),
}


def unread_count(user: User) -> int:
    """How many unread notifications a user sees (own and their groups')."""
    params = unread_count_params(user)
    return db.session.scalar(_UNREAD["groups" in params], params) or 0


def unread_count_column(with_groups: bool):
    """unread_count as a scalar subquery, for a page's query that reads it with its rows (parameters: username,
    and groups, the user's groups, when with_groups)."""
    return _UNREAD[with_groups].scalar_subquery().correlate(None)


def unread_count_params(user: User) -> dict:
    """The parameters of unread_count_column(bool(user.groups)) for this user."""
    groups = user.groups
    return {"username": user.username, "groups": groups} if groups else {"username": user.username}


def list_for(user: User, *, unread_only: bool = False, limit: int = 100) -> list[Notification]:
    """A user's notifications, newest first."""
    query = select(Notification).where(_visible(user))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(db.session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc())
                                   .limit(limit)))


@use_case
def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one notification (or all the user sees) as read; return how many changed."""
    query = update(Notification).where(_visible(user), Notification.read_at.is_(None))
    if notification_id is not None:
        if db.session.scalar(select(Notification.id).where(Notification.id == notification_id,
                                                           _visible(user))) is None:
            raise NotFound("Notification inconnue.")
        query = query.where(Notification.id == notification_id)
    changed = db.session.execute(query.values(read_at=clock.now(), read_by=user.username)
                                 .execution_options(synchronize_session=False)).rowcount
    return changed or 0
