"""Idempotency keys: a form post retried (a lost response, a double click, a browser resend) is recognised.

Each form carries a hidden random key (`idempotency_key`, rendered by the template global of the same name).
`once(scope, key, action)` runs the action and records the key with the action's result in the SAME
transaction: either both are committed or neither. A key already recorded returns the stored result instead
of running the action again; two identical posts at the same moment commit one action, the other finds the
first one's result. Keys are kept a day (`IDEMPOTENCY_HOURS`), then pruned.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from app import clock
from app.extensions import db
from app.models import IdempotencyKey
from app.services.core.errors import Conflict
from app.services.core.transaction import transaction

FIELD = "idempotency_key"
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
PRUNE_EVERY = timedelta(minutes=10)
_next_prune = {"at": None}


def new_key() -> str:
    """A fresh key for a form about to be rendered."""
    return secrets.token_urlsafe(24)


def valid(key) -> bool:
    return isinstance(key, str) and _KEY_RE.fullmatch(key) is not None


def recorded(scope: str, key: str) -> dict | None:
    """The result stored for this key, or None."""
    row = db.session.scalars(select(IdempotencyKey).where(IdempotencyKey.scope == scope[:120],
                                                          IdempotencyKey.key == key)).first()
    return dict(row.result or {}) if row is not None else None


def replay(scope: str, key) -> dict | None:
    """The stored result of an earlier run of this post, or None (also for a missing or malformed key)."""
    return recorded(scope, key) if valid(key) else None


def once(scope: str, key: str | None, action: Callable[[], dict]) -> tuple[dict, bool]:
    """Run action() once per (scope, key); return (its result, whether it is a replay of an earlier run).

    Without a valid key (an old page, a script), the action simply runs. The action's result must be JSON;
    None means nothing was carried out (e.g. a confirmation asked first): the key is not recorded."""
    if not valid(key):
        return action(), False
    found = recorded(scope, key)
    if found is not None:
        return found, True
    try:
        with transaction():
            result = action()
            if result is not None:
                db.session.add(IdempotencyKey(scope=scope[:120], key=key, result=result, created_at=clock.now()))
    except Conflict:
        db.session.rollback()
        found = recorded(scope, key)  # a twin of this post committed first: answer with its result
        if found is not None:
            return found, True
        raise
    prune_now_and_then()
    return result, False


def prune(now=None) -> int:
    """Delete the keys older than IDEMPOTENCY_HOURS (default 24); return how many."""
    hours = float(current_app.config.get("IDEMPOTENCY_HOURS", 24))
    cutoff = (now or clock.now()) - timedelta(hours=hours)
    with transaction():
        return db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)).rowcount


def prune_now_and_then() -> None:
    now = clock.now()
    if _next_prune["at"] is not None and now < _next_prune["at"]:
        return
    _next_prune["at"] = now + PRUNE_EVERY
    prune(now)
