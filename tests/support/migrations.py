"""The Alembic revisions as shipped in app/migrations."""

from pathlib import Path

from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parents[2] / "app" / "migrations"


def migration_head() -> str:
    """The single head revision id (more than one head is a merge mistake: it fails here)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
