"""Move running cases to another deployed version of their process.

Decision: one transaction per case. A case that cannot move (or fails) is reported and left untouched;
the others still move. Each migrated case keeps its previous serialized state in workflow_state_archive,
gets a `case_migrated` audit event on its own chain, and its task rows are rebuilt by the same sync as
every engine step (cases.apply_step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from app import clock
from app.engine import migration as engine_migration
from app.extensions import db
from app.models import Case, ProcessDefinition, User, WorkflowState, WorkflowStateArchive
from app.services.cases import lifecycle as cases
from app.services.core import definitions, transaction
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Invalid, NotFound
from app.services.processes import admin as process_admin


@dataclass
class Candidate:
    """A running case on another version, and whether it can move to the target version."""

    reference: str
    from_version: int | None
    stage: str
    ok: bool
    reasons: list[str] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    incident: str | None = None
    impact: list[str] = field(default_factory=list)  # what the move changes for this case, in French

    def to_json(self) -> dict:
        return {"reference": self.reference, "from_version": self.from_version, "stage": self.stage, "ok": self.ok,
                "reasons": self.reasons, "steps": self.steps, "incident": self.incident, "impact": self.impact}


@dataclass
class Outcome:
    reference: str
    migrated: bool
    message: str

    def to_json(self) -> dict:
        return {"reference": self.reference, "migrated": self.migrated, "message": self.message}


def _target(key: str, to_definition_id: int | None) -> ProcessDefinition:
    target = definitions.active(key) if to_definition_id is None else process_admin.get(to_definition_id)
    if target.key != key or target.status != "deployed":
        raise NotFound("Version cible inconnue : seule une version déployée peut recevoir des dossiers.")
    return target


def _running(key: str, target: ProcessDefinition, references: list[str] | None = None) -> list[Case]:
    query = (select(Case).where(Case.process_key == key, Case.completed.is_(False),
                                Case.definition_id != target.id).order_by(Case.id))
    if references is not None:
        query = query.where(Case.reference.in_(references or [""]))
    return list(db.session.scalars(query))


def _check(case: Case, target: ProcessDefinition) -> Candidate:
    candidate = Candidate(case.reference, case.definition.version, case.stage, False, incident=case.incident)
    if case.incident:
        candidate.reasons.append("Dossier en incident : corrigez-le avant de le migrer.")
        return candidate
    state = db.session.get(WorkflowState, case.id)
    verdict = engine_migration.check(definitions.spec_for(case.definition), definitions.spec_for(target),
                                     state.state)
    candidate.ok, candidate.reasons, candidate.steps = verdict.ok, verdict.reasons, verdict.steps
    candidate.impact = _impact(case, target, verdict.steps)
    return candidate


def _impact(case: Case, target: ProcessDefinition, steps: list[dict]) -> list[str]:
    """What changes for one case: its waiting steps' changes (form, name, lane) in the target version."""
    from app.services.processes.compare import diff_xml

    waiting = {s.get("bpmn_id") for s in steps}
    changes = [c for c in diff_xml(case.definition.xml, target.xml, case.process_key) if c.element in waiting]
    found = [f"« {c.label} » : {c.message}" for c in changes]
    if steps and not found:
        found.append("Aucun changement sur l'étape en cours : seules les étapes suivantes suivent la nouvelle version.")
    return found


def candidates(key: str, to_definition_id: int | None = None) -> tuple[ProcessDefinition, list[Candidate]]:
    """The running cases of a process on other versions than the target (default: active), each checked."""
    target = _target(key, to_definition_id)
    return target, [_check(case, target) for case in _running(key, target)]


def migrate_cases(user: User, key: str, references: list[str], to_definition_id: int | None = None) -> list[Outcome]:
    """Migrate the chosen cases, one transaction each; return what happened to each."""
    if not process_admin.can_edit(user):
        from app.services.core.errors import Forbidden

        raise Forbidden("Réservé aux propriétaires de processus.")
    if not isinstance(references, list) or not references or not all(isinstance(r, str) for r in references):
        raise Invalid({"cases": "Choisissez au moins un dossier."})
    target = _target(key, to_definition_id)
    found = {c.reference: c for c in _running(key, target, references)}
    outcomes = []
    for reference in dict.fromkeys(references):
        case = found.get(reference)
        if case is None:
            outcomes.append(Outcome(reference, False, "Dossier introuvable, terminé ou déjà sur cette version."))
            continue
        try:
            transaction.run(lambda c=case: _migrate_one(c, target, user.username))
            outcomes.append(Outcome(reference, True, f"Migré vers la version {target.version}."))
        except (ValueError, Conflict) as exc:
            outcomes.append(Outcome(reference, False, str(exc)))
    return outcomes


def _migrate_one(case: Case, target: ProcessDefinition, actor: str) -> Case:
    case = lock_case(case.id)  # then check again: the case may have moved since the list was read
    if case.incident:
        raise ValueError("Dossier en incident : corrigez-le avant de le migrer.")
    if case.completed or case.definition_id == target.id:
        raise Conflict("Dossier terminé ou déjà sur cette version.")
    source = case.definition
    state = db.session.get(WorkflowState, case.id)
    now = clock.now()
    db.session.add(WorkflowStateArchive(
        case_id=case.id, definition_id=source.id, to_definition_id=target.id,
        serializer_version=state.serializer_version, state=state.state, reason="migration",
        archived_at=now, archived_by=actor))
    context = cases.CaseContext(case, actor)
    before = dict(case.data or {})
    workflow, result = engine_migration.migrate(definitions.spec_for(source), definitions.spec_for(target),
                                                state.state, context, data=before)
    case.definition_id, case.definition = target.id, target
    cases.apply_step(case, workflow, result, context, actor, event="case_migrated", before=before, event_data={
        "from_definition_id": source.id, "to_definition_id": target.id,
        "from_version": source.version, "to_version": target.version})
    return case


def archives(case: Case) -> list[WorkflowStateArchive]:
    """The states a case left behind when it was migrated, oldest first."""
    return list(db.session.scalars(select(WorkflowStateArchive).where(WorkflowStateArchive.case_id == case.id)
                                   .order_by(WorkflowStateArchive.id)))
