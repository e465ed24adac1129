"""The Alembic revisions as shipped in app/migrations."""

from pathlib import Path

from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parents[2] / "app" / "migrations"


def migration_head() -> str:
    """The single head revision id (more than one head is a merge mistake: it fails here)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def schema_diff() -> list:
    """What autogenerate would still write: the current app's models against its database (empty when in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.extensions import db

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)
