"""Read the indicator facts kept on cases and task rows (compared with their recomputation in tests)."""

from sqlalchemy import select

from app.extensions import db
from app.models import Case, TaskRow
from app.services.rollup import TASK_DIMS


def facts() -> tuple[dict, dict]:
    cases = {r.id: tuple(r[1:]) for r in db.session.execute(
        select(Case.id, Case.answered_at, Case.survey_sent_at, Case.processing_seconds, Case.root_cause_key))}
    tasks = {r.id: tuple(r[1:]) for r in db.session.execute(
        select(TaskRow.id, TaskRow.duration_seconds, *(getattr(TaskRow, d) for d in TASK_DIMS)))}
    return cases, tasks
