"""Read the indicator facts and the rollup as kept (compared with their recomputation in tests)."""

from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseRollup, TaskRow
from app.services.core.rollup import KEY, MEASURES, TASK_DIMS


def facts() -> tuple[dict, dict]:
    cases = {r.id: tuple(r[1:]) for r in db.session.execute(
        select(Case.id, Case.answered_at, Case.survey_sent_at, Case.processing_seconds, Case.root_cause_key))}
    tasks = {r.id: tuple(r[1:]) for r in db.session.execute(
        select(TaskRow.id, TaskRow.duration_seconds, *(getattr(TaskRow, d) for d in TASK_DIMS)))}
    return cases, tasks


def stored() -> dict[tuple, dict]:
    """The rollup as {key: measures}, zero rows left out."""
    out = {}
    for row in db.session.scalars(select(CaseRollup)):
        measures = {name: getattr(row, name) for name in MEASURES}
        if any(measures.values()):
            out[tuple(getattr(row, k) for k in KEY)] = measures
    return out
