"""A small hand-written data set for indicator tests: cases, task rows and audit events inserted directly."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import Case, ProcessDefinition, TaskRow
from app.services.core import audit, rollup


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Builder:
    """Insert cases with their tasks and message events at chosen moments (the clock is restored after)."""

    def __init__(self):
        self.defs = {d.key: d for d in db.session.scalars(
            select(ProcessDefinition).order_by(ProcessDefinition.version.desc()))}  # version 1 of each process
        self.count = db.session.scalar(select(func.count()).select_from(Case)) or 0

    def definition_v2(self, key: str = "reclamation") -> ProcessDefinition:
        v1 = self.defs[key]
        v2 = ProcessDefinition(key=key, name=v1.name, version=2, status="deployed", xml=v1.xml, sha256="f" * 64,
                               decisions=v1.decisions,
                               created_by="test", created_at=v1.created_at, deployed_at=v1.created_at)
        db.session.add(v2)
        db.session.flush()
        return v2

    def case(self, received, process="reclamation", definition=None, status="open", tasks=(), messages=(),
             **columns) -> Case:
        self.count += 1
        prefix = "REC" if process == "reclamation" else "LIT"
        for key in ("blocked_amount", "credited_amount", "amount"):
            if key in columns and columns[key] is not None:
                columns[key] = Decimal(str(columns[key]))
        case = Case(reference=f"{prefix}-2026-{self.count:06d}", process_key=process,
                    definition_id=(definition or self.defs[process]).id, status=status, received_at=received,
                    created_at=received, updated_at=received, created_by="test",
                    tracking_token=uuid.uuid4().hex, data={}, **columns)
        db.session.add(case)
        db.session.flush()
        for bpmn_id, created, completed in tasks:
            db.session.add(TaskRow(id=str(uuid.uuid4()), case_id=case.id, case_reference=case.reference,
                                   process_key=process, bpmn_id=bpmn_id, name=bpmn_id, lane="gestionnaire",
                                   state="completed" if completed else "ready", created_at=created,
                                   completed_at=completed, due_at=columns.get("due_at")))  # as cases._sync_tasks
        for template, moment in messages:
            self.message(case, template, moment)
        db.session.flush()
        return case

    def message(self, case: Case, template: str, moment: datetime) -> None:
        """A letter sent at a moment: its audit event and the case's facts, as the engine's step writes them."""
        saved = clock.now()
        clock.set_now(moment)
        audit.record(case, "system", "message_sent", bpmn_id=f"st_{template}", data={"template": template})
        rollup.message_sent(case, template, moment)
        clock.set_now(saved)


def reference_set() -> dict[str, Case]:
    """The data set the expected figures of tests/test_indicators.py were computed from by hand."""
    b = Builder()
    v2 = b.definition_v2()
    cases = {}
    cases["A"] = b.case(at(11, 2), channel="letter", origin="external_customer", kind="complaint",
                        category="billing", department="billing", root_cause="Double facturation",
                        due_at=at(11, 17), closed_at=at(11, 12), status="closed", satisfaction_score=4,
                        tasks=[("ut_qualify", at(11, 2), at(11, 3)), ("ut_analyse", at(11, 3), at(11, 6)),
                               ("ut_decide", at(11, 6), at(11, 10)), ("ut_reaction", at(11, 10), at(11, 12)),
                               ("ut_survey", at(11, 12), at(11, 13))],
                        messages=[("response", at(11, 10)), ("survey", at(11, 12))])
    # Answered at the very moment of its deadline: on time.
    cases["B"] = b.case(at(11, 5), definition=v2, channel="email", origin="external_customer", kind="complaint",
                        category="delivery", department="logistics", root_cause="Retard transporteur",
                        due_at=at(11, 20), closed_at=at(11, 22), status="closed", satisfaction_score=2,
                        tasks=[("ut_qualify", at(11, 5), at(11, 6)), ("ut_analyse", at(11, 6), at(11, 16)),
                               ("ut_decide", at(11, 16), at(11, 20)), ("ut_reaction", at(11, 20), at(11, 22)),
                               ("ut_survey", at(11, 22), None)],
                        messages=[("response", at(11, 20)), ("survey", at(11, 22))])
    # Re-examined (the customer contested): two passes, answered again, not closed yet.
    cases["C"] = b.case(at(11, 6), channel="phone", origin="internal_customer", kind="complaint",
                        category="billing", root_cause="Double facturation", due_at=at(11, 29), status="answered",
                        tasks=[("ut_qualify", at(11, 6), at(11, 7)), ("ut_analyse", at(11, 7), at(11, 10)),
                               ("ut_decide", at(11, 10), at(11, 12)), ("ut_reaction", at(11, 12), at(11, 14)),
                               ("ut_analyse", at(11, 14), at(11, 18)), ("ut_decide", at(11, 18), at(11, 21)),
                               ("ut_reaction", at(11, 21), None)],
                        messages=[("response", at(11, 12)), ("response", at(11, 21))])
    # Received last month, still at analysis, past its deadline.
    cases["D"] = b.case(at(10, 20), channel="web", origin="external_customer", kind="complaint",
                        category="product", root_cause="Défaut soudure", due_at=at(11, 4), status="in_progress",
                        tasks=[("ut_qualify", at(10, 20), at(10, 21)), ("ut_analyse", at(10, 21), None)])
    cases["E"] = b.case(at(11, 20), channel="counter", origin="supplier", kind="complaint", category="product",
                        due_at=at(12, 4), status="in_progress",
                        tasks=[("ut_qualify", at(11, 20), at(11, 21)), ("ut_analyse", at(11, 21), None)])
    cases["F"] = b.case(at(11, 10), channel="web", origin="external_customer", kind="compliment",
                        due_at=at(11, 25), closed_at=at(11, 11), status="closed",
                        tasks=[("ut_handle_feedback", at(11, 10), at(11, 11))],
                        messages=[("response", at(11, 11)), ("survey", at(11, 11))])
    # Answered late.
    cases["G"] = b.case(at(11, 1), channel="letter", origin="external_customer", kind="complaint",
                        category="staff", root_cause="Accueil", due_at=at(11, 10), closed_at=at(11, 16),
                        status="closed",
                        tasks=[("ut_qualify", at(11, 1), at(11, 2)), ("ut_analyse", at(11, 2), at(11, 12)),
                               ("ut_decide", at(11, 12), at(11, 15)), ("ut_reaction", at(11, 15), at(11, 16))],
                        messages=[("response", at(11, 15)), ("survey", at(11, 16))])
    cases["H"] = b.case(at(10, 15), channel="letter", origin="external_customer", kind="complaint",
                        category="billing", root_cause="Double facturation", closed_at=at(10, 25), status="closed")
    cases["I"] = b.case(at(11, 3), process="litige", blocked_amount=1000, credited_amount=400,
                        closed_at=at(11, 13), status="closed")
    cases["J"] = b.case(at(11, 18), process="litige", blocked_amount=250.5, status="open",
                        tasks=[("ut_analyse", at(11, 18), None)])
    # Re-examined once, then closed, satisfied.
    cases["L"] = b.case(at(11, 3), channel="web", origin="external_customer", kind="complaint", category="service",
                        closed_at=at(11, 10), status="closed", satisfaction_score=5,
                        tasks=[("ut_qualify", at(11, 3), at(11, 4)), ("ut_analyse", at(11, 4), at(11, 5)),
                               ("ut_decide", at(11, 5), at(11, 6)), ("ut_reaction", at(11, 6), at(11, 7)),
                               ("ut_analyse", at(11, 7), at(11, 8)), ("ut_decide", at(11, 8), at(11, 9)),
                               ("ut_reaction", at(11, 9), at(11, 10))],
                        messages=[("survey", at(11, 10))])
    db.session.commit()
    return cases


def closed_history(b: Builder, kind="complaint", category="billing", days=(4, 5, 6, 7, 8)):
    """Closed cases whose analysis step was entered `days` before closure."""
    for n in days:
        entered = at(10, 1)
        b.case(at(9, 30), kind=kind, category=category, status="closed", closed_at=entered + timedelta(days=n),
               tasks=[("ut_analyse", entered, entered + timedelta(days=1))])
