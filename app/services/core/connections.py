"""PostgreSQL connections: liveness at no round trip (the BEGIN is the check), prepared statements kept.

SQLAlchemy's `pool_pre_ping` sends a `SELECT 1` each time a pooled connection is handed out, and psycopg then
sends its own `BEGIN` before the transaction's first statement: two round trips before any work. Here the pool's
checkout sends that `BEGIN` itself (through libpq, the way psycopg would send it): if the connection is dead
(the server restarted, the backend was terminated, the network dropped it), the `BEGIN` fails, the pool is told
so (`InvalidatePoolError`: every connection older than now is replaced at its next checkout) and hands out a
fresh connection instead — the request never sees the dead one, exactly as with the pre-ping. If it succeeds,
the connection is in a transaction and psycopg sends no `BEGIN` of its own (it reads the server's transaction
status). So a request costs its statements and its COMMIT or ROLLBACK, one round trip fewer than before.

Where a connection must not be in a transaction (a connection switched to autocommit, e.g. an advisory lock
held by the mail fetcher, `CREATE DATABASE` in the benches), the `BEGIN` sent at checkout is rolled back when
the isolation level is set, before anything else runs on it. The BEGIN is the one psycopg would send (with the
connection's isolation level, read-only and deferrable settings).

Prepared statements kept across a read's ROLLBACK: psycopg prepares a statement on the server at its fifth
execution on a connection (parse and plan once), but its `rollback()` forgets every prepared statement and sends
`DEALLOCATE ALL`, in case the transaction created an object a statement was prepared against. Every GET request
ends with a ROLLBACK, so in a worker serving pages nothing stayed prepared: the task list's statement was parsed
and planned on each view (2/3 of its server time on a small database). `rollback` below sends the ROLLBACK
itself, keeping them, unless the transaction ran anything but SELECT, INSERT, UPDATE, DELETE or WITH (DDL: then
psycopg's own rollback, which forgets them). A statement whose table was changed meanwhile is re-planned by the
server itself.

Installed by `create_app` on PostgreSQL (the checkout BEGIN when DB_POOL_PRE_PING is on, the default; the
rollback always); SQLite has neither.
"""

import types

from sqlalchemy import event, exc

# The number of BEGINs sent at checkout and of dead connections replaced there, for tests and the benches.
counters = {"begun": 0, "replaced": 0}


def uses_begin_ping(uri: str, options: dict) -> bool:
    """Whether this database's liveness check is the checkout BEGIN (PostgreSQL with the check on)."""
    return bool(options.get("pool_pre_ping")) and uri.startswith(("postgresql", "postgres"))


def engine_options(uri: str, options: dict) -> dict:
    """The engine options to create the engine with: SQLAlchemy's own pre-ping off where the BEGIN replaces it."""
    if uses_begin_ping(uri, options):
        return {**options, "pool_pre_ping": False}
    return options


def _dead(reason) -> exc.InvalidatePoolError:
    counters["replaced"] += 1
    return exc.InvalidatePoolError(f"connection found dead at checkout: {reason}")


def begin_on_checkout(dbapi_connection, connection_record, connection_proxy) -> None:
    """Pool checkout: start the transaction by one BEGIN, which also proves the connection alive."""
    from psycopg import OperationalError
    from psycopg.pq import ConnStatus, ExecStatus, TransactionStatus

    pgconn = dbapi_connection.pgconn
    if pgconn.status != ConnStatus.OK:
        raise _dead("bad connection status")
    if dbapi_connection.autocommit or pgconn.transaction_status != TransactionStatus.IDLE:
        return  # autocommit: no transaction to start; not idle: never handed out like this, leave it to psycopg
    try:
        result = pgconn.exec_(begin_statement(dbapi_connection))
    except OperationalError as error:  # libpq could not even send it
        raise _dead(error) from error
    if result.status != ExecStatus.COMMAND_OK:
        raise _dead(result.error_message.decode(errors="replace").strip() or "BEGIN failed")
    counters["begun"] += 1


def begin_statement(dbapi_connection) -> bytes:
    """The BEGIN psycopg itself would send on this connection (its isolation level, read-only, deferrable)."""
    from psycopg import IsolationLevel

    parts = [b"BEGIN"]
    if dbapi_connection.isolation_level is not None:
        parts += [b"ISOLATION LEVEL", IsolationLevel(dbapi_connection.isolation_level).name.replace("_", " ").encode()]
    if dbapi_connection.read_only is not None:
        parts.append(b"READ ONLY" if dbapi_connection.read_only else b"READ WRITE")
    if dbapi_connection.deferrable is not None:
        parts.append(b"DEFERRABLE" if dbapi_connection.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


def _driver(conn):
    return conn.connection.driver_connection


def _leave_checkout_transaction(conn) -> None:
    """Before an isolation level (autocommit included) is set on a connection, end the BEGIN of its checkout.

    SQLAlchemy forbids changing the isolation level inside a transaction it began, so a transaction open on the
    driver connection while SQLAlchemy has none is the checkout's: nothing ran in it."""
    from psycopg.pq import TransactionStatus

    if conn.in_transaction():
        return
    driver = _driver(conn)
    if driver.pgconn.transaction_status == TransactionStatus.INTRANS:
        driver.rollback()


def _on_connection_options(conn, opts) -> None:
    if "isolation_level" in opts:
        _leave_checkout_transaction(conn)


def _on_engine_connect(conn) -> None:
    _leave_checkout_transaction(conn)


def _on_engine_options(engine, opts) -> None:
    """An Engine.execution_options(isolation_level=...): its connections leave the checkout's BEGIN first (this
    listener is registered before the one SQLAlchemy then adds to set the level on each connection)."""
    if "isolation_level" in opts and not event.contains(engine, "engine_connect", _on_engine_connect):
        event.listen(engine, "engine_connect", _on_engine_connect)


_DML = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def _note_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    """Note on the connection a statement after which a ROLLBACK must forget the prepared statements (DDL)."""
    if not statement.lstrip()[:6].upper().startswith(_DML):
        try:
            conn.connection.info["prepared_unsafe"] = True
        except NotImplementedError:  # SQLAlchemy's first-connect proxy has no info: nothing is prepared yet
            pass


def rollback(dialect, dbapi_connection) -> None:
    """SQLAlchemy's do_rollback: a plain ROLLBACK that keeps psycopg's prepared statements (see above)."""
    from psycopg.pq import ExecStatus, TransactionStatus

    pgconn = dbapi_connection.pgconn
    status = pgconn.transaction_status
    if status == TransactionStatus.IDLE:
        return
    try:  # the pool's connection: its record's info (a bare psycopg connection's info is not a dict)
        info = dbapi_connection.info
    except NotImplementedError:  # SQLAlchemy's first-connect proxy
        info = None
    info = info if isinstance(info, dict) else {}
    if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR) and not info.pop("prepared_unsafe", False):
        try:
            if pgconn.exec_(b"ROLLBACK").status == ExecStatus.COMMAND_OK:
                return
        except Exception:  # noqa: BLE001 - psycopg's own rollback below raises the error as it should
            pass
    dbapi_connection.rollback()  # DDL ran, a broken connection, a pipeline: psycopg's way (forgets them)


def install_rollback(engine) -> None:
    """Keep prepared statements across rollbacks on this engine (idempotent)."""
    if not event.contains(engine, "before_cursor_execute", _note_statement):
        event.listen(engine, "before_cursor_execute", _note_statement)
    engine.dialect.do_rollback = types.MethodType(rollback, engine.dialect)


def install(engine) -> None:
    """Install the checkout BEGIN on this engine's pool (idempotent)."""
    for target, name, fn, kwargs in ((engine.pool, "checkout", begin_on_checkout, {}),
                                     (engine, "set_connection_execution_options", _on_connection_options, {}),
                                     (engine, "set_engine_execution_options", _on_engine_options, {})):
        if not event.contains(target, name, fn):
            event.listen(target, name, fn, **kwargs)


class RoundTrips:
    """Count the round trips to PostgreSQL of the engine's connections, from libpq's own protocol trace.

    A round trip is a message after which the client waits for the server: a simple `Query` (the checkout's
    BEGIN, psycopg's BEGIN, COMMIT, ROLLBACK) or the `Sync` closing an extended-protocol statement. Used by the
    tests and `bench/round_trips.py`:

        with RoundTrips(db.engine) as trips:
            ...
        trips.count, trips.messages
    """

    def __init__(self, engine):
        self.engine = engine
        self.count = 0
        self.messages: list[str] = []
        self._open: set = set()

    def _connect(self, dbapi_connection, connection_record) -> None:
        self._trace(dbapi_connection)

    def _checkin(self, dbapi_connection, connection_record) -> None:
        if dbapi_connection is not None:  # counted at each checkin (the trace file flushed), then traced on
            self._untrace(dbapi_connection)
            self._trace(dbapi_connection)

    def _close(self, dbapi_connection, connection_record) -> None:
        if dbapi_connection is not None:
            self._untrace(dbapi_connection)

    def _trace(self, dbapi_connection) -> None:
        import tempfile

        from psycopg.pq import Trace

        if getattr(dbapi_connection, "_round_trip_file", None) is not None:
            return
        handle = tempfile.TemporaryFile()
        dbapi_connection._round_trip_file = handle
        self._open.add(handle)
        dbapi_connection.pgconn.trace(handle.fileno())
        dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)

    def _untrace(self, dbapi_connection) -> None:
        handle = getattr(dbapi_connection, "_round_trip_file", None)
        if handle is None:
            return
        dbapi_connection._round_trip_file = None
        try:
            dbapi_connection.pgconn.untrace()
        except Exception:  # noqa: BLE001 - a closed connection has nothing left to untrace
            pass
        handle.seek(0)
        statement = ""
        for line in handle.read().decode("utf-8", "replace").splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] != "F":
                continue
            kind, rest = parts[2], (parts[3].strip() if len(parts) > 3 else "")
            if kind == "Parse":  # name, then the statement's text
                statement = rest
            elif kind == "Bind" and not statement:  # a prepared statement, by its name
                statement = "prepared " + rest.split(" ", 2)[1]
            elif kind in ("Query", "Sync"):
                self.count += 1
                self.messages.append(rest if kind == "Query" else statement)
                statement = ""
        handle.close()
        self._open.discard(handle)

    def reset(self) -> None:
        self.count, self.messages = 0, []

    def __enter__(self):
        # Every connection is new from here on (a pre-ping at checkout, if any, is counted too).
        self.engine.dispose()
        event.listen(self.engine.pool, "connect", self._connect)
        event.listen(self.engine.pool, "checkin", self._checkin)
        event.listen(self.engine.pool, "close", self._close)
        return self

    def __exit__(self, *exc_info) -> None:
        pool = self.engine.pool
        event.remove(pool, "connect", self._connect)
        event.remove(pool, "checkin", self._checkin)
        self.engine.dispose()  # closes the pooled connections: their traces are read
        for each in {pool, self.engine.pool}:
            if event.contains(each, "close", self._close):
                event.remove(each, "close", self._close)
        for handle in self._open:  # a connection still checked out is no longer counted
            handle.close()
        self._open.clear()
