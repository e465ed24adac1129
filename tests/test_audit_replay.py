"""Replay: the state at past events equals what the case was then; verification finds tampering."""

import json

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.services.audit.replay import state_at
from app.services.audit.verification import last_verification, verify_and_record, verify_case
from app.services.cases.lifecycle import get_case
from app.services.core.errors import Invalid
from tests.support.audit_flows import run_dispute_path
from tests.support.flows import complaint_data, do, start


def _state(reference, seq):
    state = state_at(reference, seq)
    return {"data": state.data, "status": state.status,
            "ready": sorted((t.bpmn_id, t.lane, t.holder) for t in state.ready)}


def test_state_at_every_captured_event_equals_the_past(deployed, api):
    ref, child, captures, child_captures = run_dispute_path(api)
    assert len(captures) == 13 and len(child_captures) == 6
    for reference, caps in ((ref, captures), (child, child_captures)):
        for seq, expected in caps.items():
            db.session.expire_all()
            assert _state(reference, seq) == expected, (reference, seq)
    # the path really went through the timer, the holding letter and the dispute
    final = state_at(ref)
    assert final.visits["bt_overdue"] == 1 and final.visits["st_open_dispute"] == 1
    assert final.visits["catch_dispute_closed"] == 1 and final.visits["ut_survey"] == 1
    assert final.completed and final.status == "closed" and final.ready == []
    assert final.data["dispute_reference"] == child
    assert final.visits["st_holding_letter"] == 1
    assert verify_case(get_case(ref)) == [] and verify_case(get_case(child)) == []


def test_state_at_a_moment_and_clocks(deployed, api):
    ref = start(api, **complaint_data())["reference"]
    events = api.get("auditeur", f"/api/cases/{ref}/history").get_json()["events"]
    state = state_at(ref, events[0]["at"])
    assert state.seq == events[-1]["seq"]  # every event of the start shares its instant
    assert [t.bpmn_id for t in state.ready] == ["ut_qualify"]
    assert state.to_json()["clocks"]["due_at"] == "2026-12-08T09:00:00+00:00"
    with pytest.raises(Invalid) as info:
        state_at(ref, "2020-01-01T00:00:00+00:00")
    assert "pas encore" in info.value.errors["at"]
    with pytest.raises(Invalid):
        state_at(ref, "demain")
    do(api, ref, "ut_qualify", "gestionnaire",
       {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"})
    clocks = state_at(ref).to_json()["clocks"]
    assert clocks["next_timer_at"] == "2026-12-05T09:00:00+00:00"  # the reminder, 3 days before due_at
    assert sorted(t["name"] for t in clocks["timers"]) == ["Délai de réponse dépassé", "Échéance dans 3 jours"]


def test_replay_does_not_repeat_side_effects(deployed, api):
    ref, child, _, _ = run_dispute_path(api)
    counts = {t: db.session.scalar(text(f"SELECT count(*) FROM {t}"))
              for t in ("outbox_message", "case_record", "audit_event", "sequence_counter")}
    counter = db.session.scalar(text("SELECT max(value) FROM sequence_counter"))
    for seq in range(1, 40):
        try:
            state_at(ref, seq)
        except Exception:  # noqa: BLE001  (seqs past the end are refused; side effects are what we check)
            break
    db.session.rollback()
    assert counts == {t: db.session.scalar(text(f"SELECT count(*) FROM {t}")) for t in counts}
    assert counter == db.session.scalar(text("SELECT max(value) FROM sequence_counter"))


def _disable_append_only():
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("DROP TRIGGER audit_event_no_update"))
    else:
        db.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER ALL"))


def _enable_append_only():
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                                "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"))
    else:
        db.session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER ALL"))


def test_tampered_event_is_detected(deployed, api, runner):
    ref, _, _, _ = run_dispute_path(api)
    assert runner.invoke(args=["audit", "replay", ref]).exit_code == 0
    case = get_case(ref)
    _disable_append_only()
    event_id = db.session.scalar(text("SELECT id FROM audit_event WHERE case_reference = :r "
                                      "AND type = 'task_completed' AND bpmn_id = 'ut_decide'"), {"r": ref})
    row = db.session.execute(text("SELECT data FROM audit_event WHERE id = :i"), {"i": event_id}).scalar()
    data = row if isinstance(row, dict) else json.loads(row)
    data["submitted"]["decision"] = "accepted"
    db.session.execute(text("UPDATE audit_event SET data = :d WHERE id = :i"),
                       {"d": json.dumps(data), "i": event_id})
    _enable_append_only()
    db.session.commit()
    db.session.expire_all()
    diffs = verify_case(case)
    assert any(d.field.startswith("audit[") and "empreinte" in str(d.found) for d in diffs)
    # the replay follows the edited input: the stored decision no longer matches it
    assert any(d.field == "case.data.decision" and d.expected == "accepted" and d.found == "rejected"
               for d in diffs)
    result = runner.invoke(args=["audit", "replay", ref])
    assert result.exit_code == 1 and "case.data.decision" in result.output


def test_tampered_case_data_is_detected(deployed, api, runner):
    ref, _, _, _ = run_dispute_path(api)
    case_id = get_case(ref).id
    row = db.session.execute(text("SELECT data FROM case_record WHERE id = :i"), {"i": case_id}).scalar()
    data = row if isinstance(row, dict) else json.loads(row)
    data["decision"] = "accepted"
    db.session.execute(text("UPDATE case_record SET data = :d, customer_name = 'Autre' WHERE id = :i"),
                       {"d": json.dumps(data), "i": case_id})
    db.session.commit()
    db.session.expire_all()
    diffs = {d.field: d for d in verify_case(get_case(ref))}
    assert diffs["case.data.decision"].expected == "rejected"
    assert diffs["case.data.decision"].found == "accepted"
    assert diffs["case.customer_name"].expected == "Martine Lefèvre"
    assert audit_chain_ok(ref)  # the chain is intact: only replay sees it
    results = verify_and_record([ref], "test")
    assert results[0][0] == ref and results[0][1]
    stored = last_verification(case_id)
    assert stored.ok is False and stored.checked_by == "test"
    assert {d["field"] for d in stored.differences} >= {"case.data.decision", "case.customer_name"}
    result = runner.invoke(args=["audit", "replay", "--all"])
    assert result.exit_code == 1 and "case.data.decision" in result.output


def test_tampered_workflow_state_is_detected(deployed, api):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire",
       {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"})
    case_id = get_case(ref).id
    state = db.session.execute(text("SELECT state FROM workflow_state WHERE case_id = :i"), {"i": case_id}).scalar()
    assert '"category": "billing"' in state
    db.session.execute(text("UPDATE workflow_state SET state = :s WHERE case_id = :i"),
                       {"s": state.replace('"category": "billing"', '"category": "product"'), "i": case_id})
    db.session.commit()
    db.session.expire_all()
    diffs = {d.field: d for d in verify_case(get_case(ref))}
    tampered = diffs["workflow.task[ut_analyse].data.category"]
    assert (tampered.expected, tampered.found) == ("billing", "product")
    assert "case.data.category" not in diffs


def test_tampered_task_holder_is_detected(deployed, api):
    ref = start(api, **complaint_data())["reference"]
    db.session.execute(text("UPDATE task SET assignee = 'gestionnaire' WHERE case_reference = :r"), {"r": ref})
    db.session.commit()
    db.session.expire_all()
    diffs = verify_case(get_case(ref))
    assert [str(d) for d in diffs] == ['task[ut_qualify].holder : attendu null, trouvé "gestionnaire"']


def audit_chain_ok(reference) -> bool:
    from app.services.core.audit import verify

    return verify(reference) == []


def test_replay_follows_a_migration_to_the_new_version(deployed, api):
    from app.models import User
    from app.services.core.definitions import deploy_xml
    from app.services.processes.migration import migrate_cases
    from tests.support.setup import PROCESSES

    ref = start(api, **complaint_data())["reference"]
    task = api.get("admin", f"/api/cases/{ref}").get_json()["tasks"][0]
    assert api.post("gestionnaire", f"/api/tasks/{task['id']}/claim").status_code == 200
    xml = (PROCESSES / "reclamation.bpmn").read_text(encoding="utf-8")
    deploy_xml(xml.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer la réclamation"'), "test")
    db.session.commit()
    owner = db.session.scalars(select(User).where(User.username == "proprietaire")).one()
    assert migrate_cases(owner, "reclamation", [ref])[0].migrated
    migrated_at = api.get("auditeur", f"/api/cases/{ref}/history").get_json()["events"][-1]["seq"]
    do(api, ref, "ut_qualify", "gestionnaire",
       {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"})
    before = state_at(ref, migrated_at - 1)
    after = state_at(ref, migrated_at)
    assert (before.version, after.version) == (1, 2)
    assert [(t.name, t.holder) for t in before.ready] == [("Qualifier la réclamation", "gestionnaire")]
    assert [(t.name, t.holder) for t in after.ready] == [("Qualifier et classer la réclamation", "gestionnaire")]
    assert state_at(ref).version == 2 and [t.bpmn_id for t in state_at(ref).ready] == ["ut_analyse"]
    assert verify_case(get_case(ref)) == []
