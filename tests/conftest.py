"""Fixtures: an app on a fresh SQLite file and, when TEST_DATABASE_URL is set, the same on PostgreSQL."""

import os

import pytest
from sqlalchemy import create_engine, text

from app import clock, create_app
from app.config import normalize_db_url
from app.extensions import db

# Dovecot (imap_server, mailbox), the SMTP sink, the private OpenLDAP server
pytest_plugins = ["tests.support.imap", "tests.support.mails", "tests.support.ldap"]

from tests.support.setup import (  # noqa: E402 - shared with the test modules
    BACKENDS,
    PROCESSES,
    START,
    Api,
    assert_rollup_consistent,
    make_users,
)

_pg_schema_fresh = False


def _reset_postgres() -> None:
    """Empty every table; the first time in a run, rebuild the schema so that new columns exist."""
    global _pg_schema_fresh
    if not _pg_schema_fresh:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        _pg_schema_fresh = True
    db.create_all()
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def admin_engine():
    """An AUTOCOMMIT engine on the PostgreSQL test server (PostgreSQL-only tests): to terminate the application's
    backends or watch pg_stat_activity beside its pool."""
    engine = create_engine(normalize_db_url(os.environ["TEST_DATABASE_URL"]), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def app_config():
    """Extra config for the `app` fixture: a test module or class overrides this fixture to change it."""
    return {}


@pytest.fixture
def app(backend, tmp_path, app_config):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        url = normalize_db_url(os.environ["TEST_DATABASE_URL"])
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
        "PROCESSES_DIR": str(PROCESSES), "RATELIMIT_ENABLED": False, "ATTACHMENT_DIR": str(tmp_path / "files"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashes in tests only
        "AUDIT_KEY_DIR": str(tmp_path / "audit_keys"), "AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        **app_config,
    })
    with app.app_context():
        if backend == "sqlite":
            db.create_all()
        else:
            _reset_postgres()
    from app.services.tasks import forecast

    forecast._CACHE.clear()  # PostgreSQL tests share one database URL: no medians from a previous test
    clock.set_now(START)
    yield app
    clock.set_now(None)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def users(ctx):
    make_users()


@pytest.fixture
def deployed(users):
    from app.services.core.definitions import deploy_files

    deploy_files(sorted(PROCESSES.glob("*.bpmn")), "test")


@pytest.fixture
def api(client, users):
    return Api(client)


@pytest.fixture
def rollup_checked(ctx):
    """Use in a module (pytestmark) whose tests drive real cases: after each, the rollup is checked."""
    yield
    assert_rollup_consistent()
