"""Indicator rollup bucketed by Europe/Paris calendar days and months instead of UTC ones.

No schema change: every `case_rollup` row is recomputed from the cases and their completed task rows, with
the days of the new rule (a case received at 23:30 UTC on 31 March counts on 1 April, in April's month row).
The downgrade recomputes them in UTC days, as the previous code kept them.

The recomputation is the application's own (`rollup.recompute`, run on the migration's connection, in its
transaction): the rows must be exactly those the session hooks keep from now on, or the first steps after the
upgrade would add to rows a rebuild would not produce. It reads only case and task columns that exist since the
baseline revision.

Revision ID: h16c_paris_days
Revises: h18_audit
"""

from datetime import UTC

from alembic import op

revision = "h16c_paris_days"
down_revision = "h18_audit"
branch_labels = None
depends_on = None


def _recompute(zone) -> None:
    from app.services.core import rollup

    rollup.recompute(op.get_bind(), zone, durations=False)  # the rows as kept at this revision


def upgrade():
    from app.vocabulary import PARIS

    _recompute(PARIS)


def downgrade():
    _recompute(UTC)
