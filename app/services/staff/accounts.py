"""People management for admins (list, deactivate, reactivate) and absences declared by each person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import TaskRow, User
from app.services.core import audit
from app.services.core.errors import Forbidden, Invalid, NotFound
from app.services.core.transaction import use_case
from app.services.people.users import by_username
from app.services.staff.handover import hand_over

DEACTIVATED = "compte désactivé"
ABSENT = "absence"


@dataclass
class PersonRow:
    username: str
    full_name: str
    groups: list[str]
    source: str
    active: bool
    last_login_at: datetime | None
    absent_since: datetime | None
    absence_delegate: str | None
    held_tasks: int


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("La gestion des personnes est réservée aux administrateurs.")


def people(user: User) -> list[PersonRow]:
    """Every account with its groups, last sign-in, absence and the number of tasks it holds."""
    _require_admin(user)
    held = dict(db.session.execute(select(TaskRow.assignee, func.count()).where(
        TaskRow.state == "ready", TaskRow.assignee.is_not(None)).group_by(TaskRow.assignee)).all())
    return [PersonRow(u.username, u.full_name, u.groups, u.auth_source, u.active, u.last_login_at, u.absent_since,
                      u.absence_delegate, held.get(u.username, 0))
            for u in db.session.scalars(select(User).order_by(User.username))]


def _person(username: str) -> User:
    person = by_username(username or "")
    if person is None:
        raise NotFound("Personne inconnue.")
    return person


@use_case
def deactivate(admin: User, username: str) -> list[tuple[str, str | None]]:
    """Deactivate an account; the tasks it holds go back to their group (each case's trail records it)."""
    _require_admin(admin)
    person = _person(username)
    if person.id == admin.id:
        raise Invalid({"username": "Vous ne pouvez pas désactiver votre propre compte."})
    if not person.active:
        raise Invalid({"username": f"Le compte {username} est déjà désactivé."})
    person.active = False
    audit.record(None, admin.username, "user_deactivated", data={"username": username, "reason": DEACTIVATED})
    return hand_over(person, admin.username, DEACTIVATED)


@use_case
def reactivate(admin: User, username: str) -> User:
    _require_admin(admin)
    person = _person(username)
    if person.active:
        raise Invalid({"username": f"Le compte {username} est déjà actif."})
    person.active = True
    audit.record(None, admin.username, "user_reactivated", data={"username": username})
    return person


def delegates(user: User) -> list[User]:
    """Who may take the user's tasks: active, present colleagues sharing one of their groups."""
    mine = set(user.groups)
    return [u for u in db.session.scalars(select(User).where(User.active.is_(True), User.id != user.id,
                                                             User.absent_since.is_(None)).order_by(User.username))
            if mine & set(u.groups)]


@use_case
def mark_absent(user: User, delegate_username: str | None) -> list[tuple[str, str | None]]:
    """Declare oneself absent: held tasks go to the delegate (where their lane allows), else back to the group."""
    delegate = None
    if delegate_username:
        delegate = by_username(delegate_username)
        if delegate is None or delegate.id not in {u.id for u in delegates(user)}:
            raise Invalid({"delegate": "Choisissez un collègue présent d'un de vos groupes, ou « mon groupe »."})
    user = db.session.get(User, user.id)
    user.absent_since = user.absent_since or clock.now()
    user.absence_delegate = delegate.username if delegate else None
    audit.record(None, user.username, "absence_started",
                 data={"username": user.username, "delegate": user.absence_delegate})
    return hand_over(user, user.username, ABSENT, delegate)


@use_case
def mark_back(user: User) -> User:
    """End one's absence (tasks handed over stay with whoever holds them now)."""
    user = db.session.get(User, user.id)
    if user.absent_since is None:
        raise Invalid({"absence": "Vous n'êtes pas déclaré absent."})
    audit.record(None, user.username, "absence_ended", data={"username": user.username})
    user.absent_since, user.absence_delegate = None, None
    return user
