"""The daily rollup behind the indicators: kept by every commit, undone by rollbacks, exact under concurrency."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseRollup, TaskRow
from app.services.core import rollup
from app.services.indicators import figures as indicators
from tests.support.indicator_data import Builder, at
from tests.support.rollup_check import stored
from tests.support.setup import assert_rollup_consistent

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def figures(**args):
    return indicators.compute(indicators.parse_filters({**NOVEMBER, **args}))


def test_reopened_case_moves_between_figures(deployed):
    """Closed, reopened (no longer closed, waiting for a new answer), answered again and closed on another day."""
    b = Builder()
    case = b.case(at(11, 2), channel="letter", kind="complaint", category="billing", due_at=at(11, 17),
                  status="closed", closed_at=at(11, 6), satisfaction_score=3,
                  tasks=[("ut_qualify", at(11, 2), at(11, 3)), ("ut_decide", at(11, 3), at(11, 5))],
                  messages=[("response", at(11, 5)), ("survey", at(11, 6))])
    db.session.commit()
    f = figures()
    assert f["processing_time"]["overall"]["count"] == 1 and f["satisfaction"]["answered"] == 1
    assert f["deadline"]["answered"] == 1

    case.status, case.closed_at, case.satisfaction_score = "in_progress", None, None  # reopened
    db.session.commit()
    f = figures()
    assert f["processing_time"]["overall"]["count"] == 0 and f["satisfaction"]["surveys_sent"] == 0
    assert f["deadline"]["answered"] == 0  # waiting for its new answer: not counted
    assert f["volume"]["total"] == 1 and f["satisfaction_by_path"] == []
    assert_rollup_consistent()

    db.session.add(TaskRow(id="t-reopened", case_id=case.id, case_reference=case.reference,
                           process_key="reclamation", bpmn_id="ut_analyse", name="x", lane="service",
                           state="completed", created_at=at(11, 8), completed_at=at(11, 12)))
    b.message(case, "response", at(11, 18))  # answered again, after its due date
    case.status, case.closed_at, case.satisfaction_score = "closed", at(11, 20), 5
    db.session.commit()
    f = figures()
    assert f["deadline"] == {"answered": 1, "on_time": 0, "late": 1, "share": 0.0}
    assert f["processing_time"]["overall"] == {"count": 1, "median_days": 18.0, "p90_days": 18.0}
    assert [p["path"] for p in f["satisfaction_by_path"]] == [["ut_qualify", "ut_decide", "ut_analyse"]]
    assert f["satisfaction"]["average_score"] == 5.0
    assert_rollup_consistent()


def test_rollback_leaves_the_rollup_unchanged(deployed):
    b = Builder()
    b.case(at(11, 2), channel="web", kind="complaint", category="billing")
    db.session.commit()
    before = stored()
    case = b.case(at(11, 3), channel="web", kind="complaint", category="delivery")
    case.category = "product"
    db.session.flush()
    db.session.rollback()
    assert stored() == before
    assert figures()["volume"]["total"] == 1


def test_category_change_moves_counts_and_task_copies(deployed):
    b = Builder()
    case = b.case(at(11, 2), channel="phone", kind="complaint", category="billing",
                  tasks=[("ut_qualify", at(11, 2), at(11, 3))])
    db.session.commit()
    assert {i["key"]: i["count"] for i in figures()["breakdowns"]["category"]} == {"billing": 1}
    case.category = "delivery"
    db.session.commit()
    assert {i["key"]: i["count"] for i in figures()["breakdowns"]["category"]} == {"delivery": 1}
    assert db.session.scalar(select(TaskRow.category).where(TaskRow.case_id == case.id)) == "delivery"
    steps = figures(category="delivery")["processing_time"]["steps"]
    assert [(s["bpmn_id"], s["count"]) for s in steps] == [("ut_qualify", 1)]
    assert figures(category="billing")["processing_time"]["steps"] == []
    assert_rollup_consistent()


def test_rebuild_after_bulk_insert(deployed):
    """Rows inserted past the ORM are not in the rollup until it is rebuilt, then they all are."""
    b = Builder()
    b.case(at(11, 2), channel="web", kind="complaint")
    db.session.commit()
    definition = b.defs["reclamation"]
    db.session.execute(Case.__table__.insert(), [{
        "reference": f"BULK-{i}", "process_key": "reclamation", "definition_id": definition.id, "status": "open",
        "stage": "", "completed": False, "channel": "email", "received_at": at(11, 4) + timedelta(hours=i),
        "created_at": at(11, 4), "updated_at": at(11, 4), "created_by": "t", "tracking_token": f"tok-{i}",
        "data": {}, "lock_version": 1} for i in range(5)])
    db.session.commit()
    assert figures()["volume"]["total"] == 1
    rows = rollup.rebuild()
    db.session.commit()
    assert rows == db.session.scalar(select(func.count()).select_from(CaseRollup))
    assert figures()["volume"]["total"] == 6
    assert {i["key"]: i["count"] for i in figures()["breakdowns"]["channel"]} == {"email": 5, "web": 1}


@pytest.mark.postgres
def test_concurrent_commits_lose_no_count(app, deployed, backend):
    """Threads changing different cases of the same day and dimensions hit the same rollup rows: no count lost,
    no deadlock (counters are taken in key order, last in the transaction)."""
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers itself")
    b = Builder()
    cases = [b.case(at(11, 2), channel="web", kind="complaint", category="billing") for _ in range(16)]
    db.session.commit()
    ids = [c.id for c in cases]
    barrier = threading.Barrier(8)
    errors = []

    def close(chunk):
        with app.app_context():
            try:
                barrier.wait()
                for case_id in chunk:
                    case = db.session.get(Case, case_id)
                    case.status, case.closed_at = "closed", at(11, 9)
                    case.category = "delivery"
                    db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=close, args=(ids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    f = figures()
    assert {i["key"]: i["count"] for i in f["breakdowns"]["category"]} == {"delivery": 16}
    assert f["processing_time"]["overall"] == {"count": 16, "median_days": 7.0, "p90_days": 7.0}
    assert_rollup_consistent()


def test_cli_rebuild(runner, deployed):
    b = Builder()
    b.case(at(11, 2), channel="web", kind="complaint", category="billing", root_cause="Remise oubliée")
    db.session.commit()
    kept = stored()
    db.session.execute(CaseRollup.__table__.delete())
    db.session.commit()
    assert figures()["volume"]["total"] == 0
    result = runner.invoke(args=["indicators", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "lignes d'agrégats" in result.output
    db.session.expire_all()
    assert stored() == kept and figures()["volume"]["total"] == 1
