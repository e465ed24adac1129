"""PostgreSQL connection liveness by the transaction's own BEGIN (app/services/core/connections.py): a pooled
connection killed between requests, or a whole restart's worth of them, costs no failed request; a request sends
no ping and no second BEGIN; autocommit connections are left out of the transaction; counted in round trips."""

import os

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services.core import connections
from tests.support import flows

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only")]
QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high"}


@pytest.fixture
def backend():
    return "postgresql"


def terminate_app_connections(admin_engine) -> int:
    """What a database restart does to the application's pool: every backend of its database is gone."""
    with admin_engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()


def test_the_engine_pings_by_its_begin_not_by_sqlalchemys_pre_ping(ctx):
    assert db.engine.pool._pre_ping is False  # noqa: SLF001 - the check that costs a round trip is off
    with db.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver.info.transaction_status.name == "INTRANS"  # begun at checkout, before any statement
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert driver.info.transaction_status.name == "IDLE"  # and ended when given back


def test_a_dead_pooled_connection_is_replaced_at_checkout_and_the_request_succeeds(app, api, deployed,
                                                                                    admin_engine):
    created = flows.start(api, **flows.complaint_data())
    task = flows.ready(api, created["reference"], "ut_qualify")
    db.session.remove()  # the test's app context gives its connection back, as a request does
    replaced = connections.counters["replaced"]
    assert terminate_app_connections(admin_engine) >= 1
    # A write first (no retry of a completion is needed: the dead connection never reaches the request).
    resp = api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": QUALIFY})
    assert resp.status_code == 200, resp.get_json()
    assert connections.counters["replaced"] == replaced + 1
    db.session.remove()
    # Again, for a read, with every connection of the pool dead at once (the whole pool was invalidated).
    assert terminate_app_connections(admin_engine) >= 1
    assert flows.case(api, created["reference"])["status"] == "in_progress"
    assert "ut_analyse" in [t["bpmn_id"] for t in resp.get_json()["tasks"]]


def test_a_restarted_pool_of_several_connections_costs_no_failed_request(app, api, deployed, admin_engine):
    reference = flows.start(api, **flows.complaint_data())["reference"]
    db.session.remove()
    held = [db.engine.connect() for _ in range(3)]  # three connections in the pool, as after a busy moment
    for conn in held:
        conn.close()
    assert terminate_app_connections(admin_engine) >= 3
    for _ in range(4):  # each request gets a live connection, whichever pooled one it would have had
        assert flows.case(api, reference)["reference"] == reference
        db.session.remove()


def test_autocommit_connections_leave_the_checkout_transaction(ctx):
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert conn.connection.driver_connection.info.transaction_status.name == "IDLE"
        assert conn.execute(text("SELECT pg_try_advisory_lock(4242)")).scalar() is True
        # Outside any transaction: the lock is the session's and survives what a transaction would end.
        assert conn.execute(text("SELECT pg_advisory_unlock(4242)")).scalar() is True
    with db.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        assert conn.connection.driver_connection.info.transaction_status.name == "IDLE"
        conn.execute(text("VACUUM audit_event"))  # refused inside a transaction block
    with db.engine.connect() as conn:  # the connection given back is transactional again, begun at checkout
        assert conn.connection.driver_connection.info.transaction_status.name == "INTRANS"
        assert conn.execute(text("SHOW transaction_isolation")).scalar() == "read committed"


def test_a_transaction_begun_at_checkout_is_one_transaction(ctx):
    with db.engine.connect() as conn:
        first = conn.execute(text("SELECT txid_current()")).scalar()
        assert conn.execute(text("SELECT txid_current()")).scalar() == first
        conn.rollback()
        # After the end of the first, SQLAlchemy begins again on the same connection: psycopg sends that BEGIN.
        assert conn.execute(text("SELECT txid_current()")).scalar() != first


def test_a_request_sends_no_ping_and_one_begin(app, api, deployed):
    created = flows.start(api, **flows.complaint_data())
    task = flows.ready(api, created["reference"], "ut_qualify")
    api.token("gestionnaire")  # signed in beforehand: one request counted
    db.session.remove()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with connections.RoundTrips(db.engine) as trips:
            resp = api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": QUALIFY})
            assert resp.status_code == 200, resp.get_json()
            db.session.remove()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    kinds = [m.strip('"').split(" ")[0].upper() for m in trips.messages]
    assert kinds.count("BEGIN") == 1 and kinds.count("COMMIT") == 1, trips.messages
    assert ";" not in kinds and "SELECT 1" not in trips.messages  # no pre-ping (an empty query)
    # Every round trip is a statement of the request, its one BEGIN or its COMMIT.
    assert trips.count == len(statements) + 2, (trips.messages, statements)


def prepared_on(conn) -> list[str]:
    return list(conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars())


def test_prepared_statements_survive_a_reads_rollback_and_not_a_ddl_rollback(ctx):
    db.engine.dispose()  # one connection from here on, reused by every transaction below
    with db.engine.connect() as conn:
        pid = conn.connection.driver_connection.info.backend_pid
        for _ in range(7):  # psycopg prepares a statement at its fifth execution on a connection
            assert conn.execute(text("SELECT count(*) FROM task WHERE state = :s"), {"s": "ready"}).scalar() == 0
            conn.rollback()  # what every GET request ends with
        assert any("FROM task WHERE state" in s for s in prepared_on(conn))  # still prepared after the rollbacks
        conn.rollback()
        conn.execute(text("CREATE TEMPORARY TABLE h22c_scratch (x int)"))  # DDL in the transaction…
        conn.rollback()  # …so psycopg's own rollback: it forgets them (DEALLOCATE ALL)
        assert conn.connection.driver_connection.info.backend_pid == pid
        assert prepared_on(conn) == []
        conn.rollback()


def test_a_rollback_on_a_dead_connection_still_raises_and_is_replaced(app, api, deployed, admin_engine):
    from sqlalchemy.exc import OperationalError

    reference = flows.start(api, **flows.complaint_data())["reference"]
    db.session.remove()
    conn = db.engine.connect()
    conn.execute(text("SELECT 1"))
    terminate_app_connections(admin_engine)
    with pytest.raises(OperationalError):  # as psycopg's own rollback does: the connection is gone
        conn.rollback()
    assert conn.invalidated  # SQLAlchemy saw a disconnection: the connection is not pooled again
    conn.close()
    assert flows.case(api, reference)["reference"] == reference
