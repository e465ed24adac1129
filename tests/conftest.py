"""Fixtures: an app on a fresh SQLite file and, when TEST_DATABASE_URL is set, the same on PostgreSQL."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from app import clock, create_app
from app.config import normalize_db_url
from app.extensions import db

# Dovecot (imap_server, mailbox), the SMTP sink, the private OpenLDAP server
pytest_plugins = ["tests.support.imap", "tests.support.mails", "tests.support.ldap"]

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
TEST_BPMN = Path(__file__).resolve().parent / "bpmn"
GROUPS = ("accueil", "gestionnaire", "service", "qualite", "responsable", "finance", "commercial", "direction",
          "auditeur", "proprietaire", "dpo", "admin")
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


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


def make_users(groups=GROUPS) -> None:
    """One user per group, named after it, password 'demo'."""
    from app.services.people.users import create_user

    for group in groups:
        create_user(group, "demo", [group], commit=False)
    db.session.commit()


@pytest.fixture
def users(ctx):
    make_users()


@pytest.fixture
def deployed(users):
    from app.services.core.definitions import deploy_files

    deploy_files(sorted(PROCESSES.glob("*.bpmn")), "test")


class Api:
    """A JSON client that logs in as a named user once and sends its bearer token."""

    def __init__(self, client):
        self.client = client
        self.tokens = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            resp = self.client.post("/api/login", json={"username": username, "password": "demo"})
            assert resp.status_code == 200, resp.get_json()
            self.tokens[username] = resp.get_json()["token"]
        return self.tokens[username]

    def call(self, method: str, user: str | None, url: str, **kwargs):
        headers = kwargs.pop("headers", {})
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, user, url, **kw):
        return self.call("GET", user, url, **kw)

    def post(self, user, url, **kw):
        return self.call("POST", user, url, **kw)


@pytest.fixture
def api(client, users):
    return Api(client)


def assert_rollup_consistent() -> None:
    """The indicator facts kept step by step equal a recomputation from the cases, task rows and audit log."""
    from app.services.core import rollup
    from tests.rollup_check import facts, stored

    db.session.commit()
    kept = (stored(), facts())
    rollup.rebuild()
    db.session.flush()
    rebuilt = (stored(), facts())
    db.session.rollback()
    assert kept[1] == rebuilt[1], "case and task facts differ from their recomputation"
    assert kept[0] == rebuilt[0], "the rollup differs from its recomputation"


@pytest.fixture
def rollup_checked(ctx):
    """Use in a module (pytestmark) whose tests drive real cases: after each, the rollup is checked."""
    yield
    assert_rollup_consistent()
