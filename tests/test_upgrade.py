"""A database made by the first release (2 December 2026) upgrades to the current head and keeps its data.

The old database is built by that release's own code (tests/support/releases.py: git archive of f371143, then
its `init-db`, `deploy`, `demo` and a timer pass), then upgraded by this code's `flask db upgrade`. Whatever
revisions were added since, nothing may be lost: every case, task, audit event (with its hash) and outbox
message is still there, the audit chains verify, every case replays to its stored state, and the upgraded
schema is exactly the models' (no drift).
"""

from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.support.databases import empty_database
from tests.support.migrations import migration_head, schema_diff
from tests.support.releases import build_release_database

SNAPSHOT = {
    "cases": "SELECT reference, status FROM case_record ORDER BY id",
    "tasks": "SELECT id, case_id, bpmn_id, state, assignee FROM task ORDER BY id",
    "audit": "SELECT seq, case_id, type, hash FROM audit_event ORDER BY seq",
    "outbox": "SELECT id, case_id, template, channel, status FROM outbox_message ORDER BY id",
    "users": "SELECT username, groups_csv, active FROM user_account ORDER BY username",
    "definitions": "SELECT key, version, sha256 FROM process_definition ORDER BY id",
}


def snapshot(conn) -> dict:
    return {name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in SNAPSHOT.items()}


def test_first_release_database_upgrades_to_head_without_loss(backend, tmp_path):
    with empty_database(backend, tmp_path, "release") as url:
        build_release_database(url, tmp_path)
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "release-secret",
                          "ATTACHMENT_DIR": str(tmp_path / "files")})
        with app.app_context():
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "baseline"
                before = snapshot(conn)
            db.engine.dispose()
        assert len(before["cases"]) == 6 and before["tasks"] and before["audit"] and before["outbox"]

        runner = app.test_cli_runner()
        upgraded = runner.invoke(args=["db", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
        with app.app_context():
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migration_head()
                after = snapshot(conn)
            assert schema_diff() == [], "the upgraded schema differs from the models"
            verified = runner.invoke(args=["audit", "verify"])
            assert verified.exit_code == 0 and "intègres" in verified.output, verified.output
            replayed = runner.invoke(args=["audit", "replay", "--all"])
            assert replayed.exit_code == 0, replayed.output
            assert "Dossiers rejoués : 6, conformes : 6, écarts : 0" in replayed.output
            db.session.remove()
            db.engine.dispose()
        for name, rows in before.items():
            assert after[name] == rows, f"{name} changed by the upgrade"


def test_backup_of_a_first_release_database_restores_and_upgrades(backend, tmp_path):
    """A backup taken before an upgrade restores with this code: the schema is brought to head on the way."""
    with empty_database(backend, tmp_path, "release") as url, empty_database(backend, tmp_path, "again") as target:
        build_release_database(url, tmp_path)
        old = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "release-secret",
                          "INSTANCE_PATH": str(tmp_path / "instance"), "ATTACHMENT_DIR": str(tmp_path / "files")})
        made = old.test_cli_runner().invoke(args=["backup", "create", str(tmp_path / "backups")])
        assert made.exit_code == 0, made.output
        assert "schéma baseline, 6 dossiers" in made.output
        with old.app_context():
            with db.engine.connect() as conn:
                before = snapshot(conn)
            db.engine.dispose()
        [archive] = (tmp_path / "backups").glob("*.tar")
        new = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": target, "SECRET_KEY": "release-secret",
                          "INSTANCE_PATH": str(tmp_path / "instance2"), "ATTACHMENT_DIR": str(tmp_path / "files2")})
        with new.app_context():
            restored = new.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
            assert restored.exit_code == 0, restored.output
            assert f"Schéma : {migration_head()}." in restored.output
            with db.engine.connect() as conn:
                assert snapshot(conn) == before
            assert schema_diff() == []
            replayed = new.test_cli_runner().invoke(args=["audit", "replay", "--all"])
            assert "conformes : 6, écarts : 0" in replayed.output, replayed.output
            db.session.remove()
            db.engine.dispose()
