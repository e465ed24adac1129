"""Rate-limit counters in the application's own database: the `database://` storage, shared by every worker.

Flask-Limiter's default strategy (fixed window) needs from a storage: incr with an expiry, get, get_expiry,
clear, reset and check. Here each call is one short statement in a transaction of its own, on a connection
of its own taken from the current app's engine, never the request's session: a hit neither commits nor
rolls back the request's work. An increment is one atomic `INSERT … ON CONFLICT DO UPDATE … RETURNING`
(PostgreSQL, and SQLite 3.35+), so concurrent hits from any number of workers lose no count.

Windows end at a time computed from the application clock (app/clock.py): tests move the clock instead of
sleeping. Expired rows are reused by the next hit on their key, and deleted in small batches at most once a
minute per worker.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from urllib.parse import urlparse

from limits.errors import ConfigurationError
from limits.storage import Storage
from sqlalchemy import case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app import clock
from app.models.rate_limit import RateLimitCounter

SCHEME = "database"
TABLE = RateLimitCounter.__table__
KEY, EXPIRES, COUNT = TABLE.c["key"], TABLE.c["expires_at"], TABLE.c["count"]
MAX_KEY = 255  # the key column's length
INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
log = logging.getLogger("reclamations.ratelimit")


def storage_uri(config) -> str:
    """The rate-limit storage: RATELIMIT_STORAGE_URI when set, else the application's database (any backend,
    so the limits hold across every worker and host; `memory://` only when asked for)."""
    return config.get("RATELIMIT_STORAGE_URI") or f"{SCHEME}://"


def stored_key(key: str) -> str:
    """The key as stored: unchanged when it fits the column, else cut and suffixed with its SHA-256."""
    if len(key) <= MAX_KEY:
        return key
    return key[:MAX_KEY - 65] + "#" + hashlib.sha256(key.encode("utf-8")).hexdigest()


class DatabaseStorage(Storage):
    """limits storage for the `database://` scheme: the table rate_limit_counter of the app's database."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, engine: Engine | None = None,
                 cleanup_interval: float = 60, cleanup_batch: int = 1000, **options):
        parsed = urlparse(uri or f"{SCHEME}://")
        if parsed.netloc or parsed.path.strip("/") or parsed.query:
            raise ConfigurationError(f"{SCHEME}:// takes no address: it is the application's DATABASE_URL")
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._engine = engine  # tests give one; the app leaves it None: each call uses the current app's
        self.cleanup_interval = timedelta(seconds=float(cleanup_interval))
        self.cleanup_batch = int(cleanup_batch)
        self._next_cleanup: datetime | None = None

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def engine(self) -> Engine:
        """The given engine, else the current app's (one storage serves whichever app runs the request)."""
        if self._engine is not None:
            return self._engine
        from app.extensions import db

        return db.engine

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Count `amount` hits in the key's window, starting a new window of `expiry` seconds if it is over."""
        engine, now = self.engine(), clock.now()
        insert = INSERTS.get(engine.dialect.name)
        if insert is None:
            raise ConfigurationError(f"{SCHEME}:// needs PostgreSQL or SQLite, not {engine.dialect.name}")
        stmt = insert(TABLE).values(key=stored_key(key), expires_at=now + timedelta(seconds=expiry), count=amount)
        over = EXPIRES <= now
        stmt = stmt.on_conflict_do_update(index_elements=[KEY], set_={
            "count": case((over, stmt.excluded["count"]), else_=COUNT + stmt.excluded["count"]),
            "expires_at": case((over, stmt.excluded["expires_at"]), else_=EXPIRES),
        }).returning(COUNT)
        with engine.begin() as conn:
            count = conn.execute(stmt).scalar_one()
        self._cleanup_now_and_then(engine, now)
        return count

    def get(self, key: str) -> int:
        """Hits counted in the key's current window (0 when there is none)."""
        stmt = select(COUNT).where(KEY == stored_key(key), EXPIRES > clock.now())
        with self.engine().connect() as conn:
            return conn.execute(stmt).scalar() or 0

    def get_expiry(self, key: str) -> float:
        """When the key's current window ends, in seconds since the epoch (now when there is none)."""
        now = clock.now()
        stmt = select(EXPIRES).where(KEY == stored_key(key), EXPIRES > now)
        with self.engine().connect() as conn:
            expires_at = conn.execute(stmt).scalar()
        return (expires_at or now).timestamp()

    def clear(self, key: str) -> None:
        """Forget the key's window."""
        with self.engine().begin() as conn:
            conn.execute(delete(TABLE).where(KEY == stored_key(key)))

    def reset(self) -> int | None:
        """Forget every window; return how many there were."""
        with self.engine().begin() as conn:
            return conn.execute(delete(TABLE)).rowcount

    def check(self) -> bool:
        """Whether the database answers (Flask-Limiter asks this to leave its in-memory fallback)."""
        try:
            with self.engine().connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not healthy", never an error page
            log.debug("rate-limit storage check failed", exc_info=True)
            return False

    def delete_expired(self, engine: Engine | None = None, now: datetime | None = None) -> int:
        """Delete one batch of windows that are over; rows another transaction holds are left for later."""
        engine, now = engine or self.engine(), now or clock.now()
        doomed = (select(KEY).where(EXPIRES <= now).limit(self.cleanup_batch)
                  .with_for_update(skip_locked=True))  # PostgreSQL; SQLite serializes writers anyway
        with engine.begin() as conn:
            return conn.execute(delete(TABLE).where(KEY.in_(doomed))).rowcount

    def _cleanup_now_and_then(self, engine: Engine, now: datetime) -> None:
        if self._next_cleanup is not None and now < self._next_cleanup:
            return
        self._next_cleanup = now + self.cleanup_interval
        try:
            self.delete_expired(engine, now)
        except SQLAlchemyError:  # the hit itself was counted: a failed cleanup waits for the next one
            log.warning("rate-limit counters cleanup failed", exc_info=True)
