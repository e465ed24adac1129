"""The application clock: every 'now' goes through here so tests can move time instead of sleeping."""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_frozen: datetime | None = None
# A per-thread (per-context) pin: one transaction sees one instant, and a replay sees the recorded one.
_pinned: ContextVar[datetime | None] = ContextVar("clock_pinned", default=None)


def now() -> datetime:
    """Return the current aware UTC datetime (or the time set by tests)."""
    pinned_value = _pinned.get()
    if pinned_value is not None:
        return pinned_value
    return _frozen if _frozen is not None else datetime.now(UTC)


def set_now(value: datetime | None) -> None:
    """Freeze the clock at an aware datetime, or unfreeze it with None."""
    global _frozen
    if value is not None and value.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    _frozen = value.astimezone(UTC) if value is not None else None


def advance(**delta) -> datetime:
    """Move a frozen clock forward by a timedelta's keyword arguments."""
    from datetime import timedelta

    set_now(now() + timedelta(**delta))
    return now()


@contextmanager
def pinned(value: datetime | None = None):
    """Make now() return one instant in this thread only (default: now), e.g. for one transaction or a replay."""
    value = value if value is not None else now()
    if value.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    token = _pinned.set(value.astimezone(UTC))
    try:
        yield value
    finally:
        _pinned.reset(token)
