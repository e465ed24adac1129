"""Alembic environment for Flask-Migrate: the app's engine and metadata, batch mode for SQLite.

The baseline revision is frozen (first release); every model change adds a revision (see README, Schema).
"""

import logging

from alembic import context
from flask import current_app

logger = logging.getLogger("alembic.env")
config = context.config


def render_item(type_, obj, autogen_context):
    """Render the app's column types as plain SQLAlchemy types: migrations must not import app code."""
    if type_ != "type":
        return False
    from app.models.types import UTCDateTime

    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    variants = getattr(obj, "_variant_mapping", None)
    if variants and "postgresql" in variants:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')"
    return False


def configure_args(connection) -> dict:
    """The options used both for migrations and for the drift check in the tests."""
    return {
        "connection": connection,
        "target_metadata": current_app.extensions["migrate"].db.metadata,
        "render_as_batch": connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        "compare_type": True,
        "render_item": render_item,
    }


def run_migrations_online() -> None:
    def skip_empty(ctx, revision, directives):
        # Never write an empty revision when nothing changed.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    extra = dict(current_app.extensions["migrate"].configure_args)
    extra.setdefault("process_revision_directives", skip_empty)
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(**{**extra, **configure_args(connection)})
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) mode is not supported: run `flask --app app db upgrade`.")
run_migrations_online()
