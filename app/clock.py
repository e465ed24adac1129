"""The application clock: every 'now' goes through here so tests can move time instead of sleeping."""

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """Return the current aware UTC datetime (or the time set by tests)."""
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
