"""What the tests share with conftest.py: paths, the demo groups, the frozen start of the clock, the backends under
test, the users and API client factories, the rollup consistency check."""

import os
from datetime import UTC, datetime
from pathlib import Path

from app.extensions import db

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
TEST_BPMN = ROOT / "tests" / "bpmn"
GROUPS = ("accueil", "gestionnaire", "service", "qualite", "responsable", "finance", "commercial", "direction",
          "auditeur", "proprietaire", "dpo", "admin")
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def make_users(groups=GROUPS) -> None:
    """One user per group, named after it, password 'demo'."""
    from app.services.people.users import create_user

    for group in groups:
        create_user(group, "demo", [group], commit=False)
    db.session.commit()


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


def assert_rollup_consistent() -> None:
    """The indicator facts kept step by step equal a recomputation from the cases, task rows and audit log."""
    from app.services.core import rollup
    from tests.support.rollup_check import facts, stored

    db.session.commit()
    kept = (stored(), facts())
    rollup.rebuild()
    db.session.flush()
    rebuilt = (stored(), facts())
    db.session.rollback()
    assert kept[1] == rebuilt[1], "case and task facts differ from their recomputation"
    assert kept[0] == rebuilt[0], "the rollup differs from its recomputation"
