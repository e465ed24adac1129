"""Replay verification: rebuild each case from its inputs and compare with what is stored.

A difference names the field, the value the replay expects and the value found in the database: a tampered
row, a tampered workflow state, an engine change or a migration that did not do what its event says.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy import select

from app import clock
from app.engine import CaseWorkflow, EngineError
from app.extensions import db
from app.models import BUSINESS_FIELDS, Case, CaseVerification, WorkflowState
from app.services.audit.checkpoints import verify_chains  # the chain against the latest signed checkpoint
from app.services.audit.replay import CaseState, Replay, ReplayError
from app.services.core import audit, definitions
from app.services.core.case_rules import column_value  # the same conversion the service applies
from app.services.core.transaction import transaction
from app.services.tasks import actions as tasks

_MISSING = "<absent>"


@dataclass
class Difference:
    field: str
    expected: object
    found: object

    def __str__(self) -> str:
        return f"{self.field} : attendu {_show(self.expected)}, trouvé {_show(self.found)}"


def _show(value) -> str:
    return value if value == _MISSING else json.dumps(value, ensure_ascii=False, default=str)


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _compare_data(prefix: str, expected: dict, found: dict) -> list[Difference]:
    diffs = []
    for key in sorted(set(expected) | set(found)):
        left, right = expected.get(key, _MISSING), found.get(key, _MISSING)
        if not _same(left, right):
            diffs.append(Difference(f"{prefix}.{key}", left, right))
    return diffs


def _compare_tasks(prefix: str, expected: list[tuple], found: list[tuple]) -> list[Difference]:
    """Ready tasks as multisets of (bpmn_id, lane, holder) tuples."""
    diffs, rest = [], list(found)
    for item in expected:
        if item in rest:
            rest.remove(item)
            continue
        same_element = next((f for f in rest if f[0] == item[0]), None)
        if same_element is not None:
            rest.remove(same_element)
            names = ("bpmn_id", "lane", "holder")
            for name, left, right in zip(names, item, same_element, strict=False):
                if left != right:
                    diffs.append(Difference(f"{prefix}[{item[0]}].{name}", left, right))
        else:
            diffs.append(Difference(f"{prefix}[{item[0]}]", "prête", _MISSING))
    for item in rest:
        diffs.append(Difference(f"{prefix}[{item[0]}]", _MISSING, "prête"))
    return diffs


def _compare_columns(case: Case, data: dict) -> list[Difference]:
    diffs = []
    for name in BUSINESS_FIELDS:
        if name not in data:
            continue
        expected, found = column_value(name, data[name]), getattr(case, name)
        if expected != found:
            diffs.append(Difference(f"case.{name}", expected, found))
    return diffs


def compare(case: Case, state: CaseState, replayed: CaseWorkflow) -> list[Difference]:
    """Every difference between a replayed state (and workflow) and the case's stored rows and workflow."""
    diffs = _compare_data("case.data", state.data, case.data or {})
    for name, expected, found in (("case.status", state.status, case.status),
                                  ("case.completed", state.completed, case.completed),
                                  ("case.incident", bool(state.incident), bool(case.incident)),
                                  ("case.next_timer_at", state.next_timer_at, case.next_timer_at),
                                  ("case.definition_id", state.definition_id, case.definition_id)):
        if expected != found:
            diffs.append(Difference(name, expected, found))
    diffs += _compare_columns(case, state.data)
    expected_tasks = [(t.bpmn_id, t.lane, t.holder) for t in state.ready]
    found_tasks = [(r.bpmn_id, r.lane, r.assignee) for r in tasks.ready_for_case(case.id)]
    diffs += _compare_tasks("task", expected_tasks, found_tasks)

    stored = db.session.get(WorkflowState, case.id)
    if stored is None:
        return diffs + [Difference("workflow", "état enregistré", _MISSING)]
    try:
        loaded = CaseWorkflow.load(definitions.spec_for(case.definition), stored.state, None, data=case.data or {})
        snap = loaded.snapshot()
    except (EngineError, ValueError, KeyError, TypeError) as exc:
        return diffs + [Difference("workflow", "état lisible", f"{type(exc).__name__}: {exc}")]
    expected_data, found_data = replayed.active_task_data(), loaded.active_task_data()
    if [b for b, _ in expected_data] == [b for b, _ in found_data]:
        for (bpmn_id, left), (_, right) in zip(expected_data, found_data, strict=True):
            diffs += _compare_data(f"workflow.task[{bpmn_id}].data", left, right)
    diffs += _compare_tasks("workflow.ready", sorted((t.bpmn_id, t.lane) for t in state.ready),
                            sorted((t.bpmn_id, t.lane) for t in snap.ready))
    if snap.completed != state.completed:
        diffs.append(Difference("workflow.completed", state.completed, snap.completed))
    if snap.next_timer_at != state.next_timer_at:
        diffs.append(Difference("workflow.next_timer_at", state.next_timer_at, snap.next_timer_at))
    return diffs


def verify_case(case: Case) -> list[Difference]:
    """Check a case's hash chain, then replay it and compare with what is stored."""
    diffs = [Difference(f"audit[{p.seq}]", "empreinte et chaînage valides", p.message)
             for p in verify_chains(case.reference)]
    events = audit.history(case.id)
    try:
        replay = Replay(case, events)
        state = replay.run()
    except (ReplayError, EngineError, LookupError) as exc:
        return diffs + [Difference("replay", "rejeu complet", str(exc))]
    for item in state.not_replayed:
        diffs.append(Difference(f"audit[{item['seq']}]", "événement rejouable", f"type inconnu {item['type']}"))
    return diffs + compare(case, state, replay.workflow)


def record_result(case: Case, diffs: list[Difference], actor: str) -> CaseVerification:
    """Store the outcome of a check as the case's last verification (the caller commits)."""
    row = db.session.get(CaseVerification, case.id) or CaseVerification(case_id=case.id)
    row.checked_at, row.checked_by, row.ok = clock.now(), actor, not diffs
    row.last_seq = audit.count_for(case.id)
    row.differences = json.loads(json.dumps([asdict(d) for d in diffs[:50]], default=str))
    db.session.add(row)
    return row


def verify_and_record(references: list[str] | None, actor: str) -> list[tuple[str, list[Difference]]]:
    """Verify the named cases (all when None), store each result, commit once per case."""
    query = select(Case).order_by(Case.id)
    if references:
        query = query.where(Case.reference.in_(references))
    results = []
    for case in db.session.scalars(query).all():
        with transaction():
            diffs = verify_case(case)
            record_result(case, diffs, actor)
        results.append((case.reference, diffs))
    return results


def verify_and_record_case(reference: str, actor: str) -> list[Difference]:
    """The web « Vérifier »: full replay of one case, stored as its last verification like the CLI's."""
    from app.services.audit.replay import case_by_reference

    with transaction():
        case = case_by_reference(reference)
        diffs = verify_case(case)
        record_result(case, diffs, actor)
    return diffs


def last_verification(case_id: int) -> CaseVerification | None:
    """The case's last stored verification, for the "vérifié" mark."""
    return db.session.get(CaseVerification, case_id)
