"""The Alembic migrations and the models describe the same schema, on SQLite and PostgreSQL.

When this fails after a model change: add an Alembic revision (`flask --app app db revision --autogenerate -m
"what changed"`, then review it and add any data backfill) and commit it with the model change. The baseline
revision is the schema of the first release (2 December 2026): it is frozen, never regenerated.
"""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from app import create_app
from app.extensions import db
from tests.support.databases import empty_database
from tests.support.migrations import migration_head, schema_diff
from tests.support.setup import BACKENDS

HINT = ("make test fails: a model changed without an Alembic revision (the models and app/migrations differ). "
        "Add one: flask --app app db revision --autogenerate -m 'what changed', review it (backfill new columns), "
        "give it an id named after your branch, commit it with the model change. Differences: ")


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    """The URL of an empty database: a new SQLite file, or a new database on the test PostgreSQL server."""
    with empty_database(request.param, tmp_path, "mig") as url:
        yield url


def _app(url):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})


def _diff(app) -> list:
    with app.app_context():
        return schema_diff()


def test_migrations_match_models(empty_url):
    app = _app(empty_url)
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    diff = _diff(app)
    assert diff == [], HINT + repr(diff)
    with app.app_context():
        db.engine.dispose()


def test_upgraded_audit_table_is_append_only(empty_url):
    app = _app(empty_url)
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO audit_event (seq, at, actor, type, data, prev_hash, hash) "
                "VALUES (1, CURRENT_TIMESTAMP, 'x', 'test', '{}', '', '')"))
        for sql in ("UPDATE audit_event SET actor = 'y'", "DELETE FROM audit_event"):
            with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as conn:
                conn.execute(text(sql))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT actor FROM audit_event")).scalar() == "x"
        db.engine.dispose()


def test_downgrade_to_base_then_upgrade_again(empty_url):
    app = _app(empty_url)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert "case_record" in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_cli_db_upgrade_on_an_empty_database(empty_url):
    app = _app(empty_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migration_head()
        db.engine.dispose()


def test_init_db_creates_stamps_then_upgrades(empty_url):
    app = _app(empty_url)
    runner = app.test_cli_runner()
    with app.app_context():  # as the flask command does
        first = runner.invoke(args=["init-db"])
        assert first.exit_code == 0, first.output
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migration_head()
    assert _diff(app) == []
    with app.app_context():
        second = runner.invoke(args=["init-db"])  # already under migrations: upgrade, a no-op at head
        assert second.exit_code == 0, second.output
        db.engine.dispose()
