"""Staff sign-in: local accounts by their stored password, directory accounts by the company directory.

Who goes where: an existing local account (auth_source 'local': admin, tests, small setups) is checked
locally and never sent to the directory, so it works when the directory is down. Every other name goes to
the directory when LDAP_URL is set; a successful sign-in creates or updates the account (name, e-mail,
groups replaced by LDAP_GROUP_MAP), one the directory disables or no longer knows is deactivated.
Each account change is an event of the global audit chain.
"""

from __future__ import annotations

import secrets

from flask import current_app

from app import clock
from app.extensions import db
from app.models import User
from app.services.core import audit
from app.services.core.errors import ServiceError
from app.services.core.transaction import transaction
from app.services.people import directory
from app.services.people.users import KNOWN_GROUPS, authenticate, by_username
from app.services.staff.handover import hand_over

BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
DISABLED = "Votre compte est désactivé dans l'annuaire de l'entreprise : adressez-vous à votre responsable."
NO_GROUP = ("Votre compte de l'annuaire n'appartient à aucun groupe de l'application : demandez à "
            "l'administrateur de vous ajouter au groupe de l'annuaire correspondant à votre service.")
DIRECTORY = "annuaire"


class SignInRefused(ServiceError):
    status = 401


def sign_in(username: str, password: str) -> User:
    """The signed-in user, or SignInRefused / DirectoryUnavailable / DirectoryMisconfigured (French messages)."""
    username = (username or "").strip()
    if not username or len(username) > 80:
        raise SignInRefused(BAD_CREDENTIALS)
    user = by_username(username)
    if not directory.enabled() or (user is not None and user.auth_source == "local"):
        if authenticate(username, password or "") is None:  # same work whether the name exists or not
            raise SignInRefused(BAD_CREDENTIALS)
        return _signed_in(user)
    try:
        mapping = directory.parse_group_map(current_app.config.get("LDAP_GROUP_MAP"), KNOWN_GROUPS)
    except ValueError as exc:
        current_app.logger.error("%s", exc)
        raise directory.DirectoryMisconfigured(directory.MISCONFIGURED) from None
    result = directory.check(username, password or "")
    if not result.found:
        _deactivate(user, "absent de l'annuaire")
        raise SignInRefused(BAD_CREDENTIALS)
    if not result.authenticated:
        raise SignInRefused(BAD_CREDENTIALS)
    person = result.person
    if person.disabled:
        _deactivate(user, "désactivé dans l'annuaire")
        raise SignInRefused(DISABLED)
    groups = sorted(directory.mapped_groups(person.group_dns, mapping))
    with transaction():
        if user is None:
            user = User(username=username, created_at=clock.now(), auth_source="ldap",
                        password_hash="ldap:" + secrets.token_hex(16))  # never a valid local password
            db.session.add(user)
            db.session.flush()
            audit.record(None, DIRECTORY, "user_created", data={"username": username, "groups": groups,
                                                                 "source": "ldap"})
        elif user.groups != groups or not user.active:
            audit.record(None, DIRECTORY, "user_updated", data={
                "username": username, "groups": [user.groups, groups], "active": [user.active, bool(groups)]})
        user.full_name, user.email, user.directory_dn = person.full_name, person.email, person.dn
        changed = user.groups != groups
        user.groups = groups
        user.active = bool(groups)  # nothing mapped: no access, as if deactivated
        if changed:  # tasks of lanes the person left go back to their group
            hand_over(user, DIRECTORY, "groupes changés dans l'annuaire", outside_lanes_only=True)
        if groups:
            user.last_login_at = clock.now()
    if not groups:
        raise SignInRefused(NO_GROUP)
    return user


def _signed_in(user: User) -> User:
    with transaction():
        user.last_login_at = clock.now()
    return user


def _deactivate(user: User | None, why: str) -> None:
    """Deactivate a directory account the directory refuses; the tasks it holds go back to their group."""
    if user is None or user.auth_source != "ldap" or not user.active:
        return
    with transaction():
        user.active = False
        audit.record(None, DIRECTORY, "user_deactivated", data={"username": user.username, "reason": why})
        hand_over(user, DIRECTORY, why)
