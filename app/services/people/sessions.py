"""Staff web sessions: revocable, with an idle and an absolute lifetime.

The session cookie is signed, not stored: to revoke it, each user carries a generation (`session_version`)
copied into the cookie at sign-in. Signing out or changing the password bumps it, so every cookie issued
before (stolen, copied, left in another browser) stops working at its next request. The cookie also carries
when the session began and when it was last used; `SESSION_IDLE_MINUTES` and `SESSION_MAX_HOURS` bound them,
measured on the application clock. API bearer tokens are separate (they end with the password or their age).
"""

from __future__ import annotations

from collections.abc import MutableMapping

from flask import current_app

from app import clock
from app.models import User
from app.services.core.transaction import transaction

VERSION, BEGAN, SEEN = "staff_sv", "staff_began", "staff_seen"
TOUCH_EVERY = 60  # seconds: the last-use time is rewritten at most once a minute (fewer Set-Cookie headers)


def begin(session: MutableMapping, user: User) -> None:
    """Stamp a new signed-in session with the user's generation and the time."""
    now = clock.now().timestamp()
    session.update({VERSION: user.session_version or 0, BEGAN: now, SEEN: now})


def expired_reason(session: MutableMapping, user: User) -> str | None:
    """Why this session may no longer act as this user (None when it may), in French."""
    now = clock.now().timestamp()
    began, seen = session.get(BEGAN), session.get(SEEN)
    if session.get(VERSION) != (user.session_version or 0) or not isinstance(began, (int, float)) \
            or not isinstance(seen, (int, float)):
        return "Votre session a été fermée : connectez-vous à nouveau."
    if now - began > float(current_app.config.get("SESSION_MAX_HOURS", 12)) * 3600:
        return "Votre session a dépassé sa durée maximale : connectez-vous à nouveau."
    if now - seen > float(current_app.config.get("SESSION_IDLE_MINUTES", 60)) * 60:
        return "Votre session a expiré après une période d'inactivité : connectez-vous à nouveau."
    return None


def touch(session: MutableMapping) -> None:
    """Record that the session was used now."""
    now = clock.now().timestamp()
    if now - float(session.get(SEEN) or 0) >= TOUCH_EVERY:
        session[SEEN] = now


def revoke_all(user: User) -> None:
    """End every web session of the user (sign-out, password change): their cookies stop working."""
    with transaction():
        user.session_version = (user.session_version or 0) + 1


def change_password(user: User, password: str) -> None:
    """Set a new password: the user's sessions and API tokens issued before stop working."""
    from app.services.core.errors import Invalid

    if not password or len(password) < 4:
        raise Invalid({"password": "Mot de passe trop court."})
    with transaction():
        user.set_password(password)
