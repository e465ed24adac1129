"""Process owners' use cases: drafts, deployment, version history. Each write owns its transaction.

A draft is a ProcessDefinition row with status 'draft' and no version; drafts are mutable, deployed rows
never change. Deploying gives the draft the next version number: definitions.active() reads the database
on every request and the spec cache is keyed by hash, so every server process uses it for the next case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import func, select

from app import clock
from app.engine import DefinitionError, bpmn_xml, camunda_compat, executable_process_ids, parse_xml
from app.extensions import db
from app.models import Case, ProcessDefinition, User
from app.services.core import audit, definitions
from app.services.core.bounds import MAX_ID
from app.services.core.errors import Conflict, Forbidden, NotFound, ServiceError
from app.services.core.transaction import run
from app.services.processes.validation import Problem, blocking, validate
from app.vocabulary import OWNER_GROUP

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}", re.ASCII)


class ValidationFailed(ServiceError):
    """The document cannot be saved or deployed; `problems` lists what is wrong, element by element."""

    status = 422

    def __init__(self, problems: list[Problem], message: str = "Le processus n'est pas valide."):
        super().__init__(message, errors=[p.to_json() for p in problems])
        self.problems = problems


def can_edit(user: User) -> bool:
    """Process owners and admins change definitions; everybody else reads (auditors included)."""
    return user.in_any(OWNER_GROUP)


def require_editor(user: User) -> None:
    if not can_edit(user):
        raise Forbidden("Réservé aux propriétaires de processus.")


def commit(work):
    return run(work, duplicate="Une autre version vient d'être enregistrée : rechargez et recommencez.")


# --- reading ------------------------------------------------------------------------------------------

def get(definition_id: int) -> ProcessDefinition:
    """A definition row (draft or deployed) by id, or NotFound."""
    if not isinstance(definition_id, int) or not 0 < definition_id <= MAX_ID:
        raise NotFound("Version de processus inconnue.")
    definition = db.session.get(ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound("Version de processus inconnue.")
    return definition


def get_version(key: str, version: int) -> ProcessDefinition:
    """A deployed version of a process, or NotFound."""
    definition = db.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
    if definition is None:
        raise NotFound(f"Version {version} du processus « {key} » inconnue.")
    return definition


def known_keys() -> list[str]:
    """The keys of every process known (deployed or draft)."""
    return list(db.session.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)))


def running_counts(key: str | None = None) -> dict[int, int]:
    """Running (not completed) cases per definition id."""
    query = select(Case.definition_id, func.count()).where(Case.completed.is_(False)).group_by(Case.definition_id)
    if key is not None:
        query = query.where(Case.process_key == key)
    return dict(db.session.execute(query).all())


@dataclass
class VersionInfo:
    definition: ProcessDefinition
    running: int
    active: bool


def versions(key: str) -> list[VersionInfo]:
    """Every deployed version of a process (newest first) then its drafts, with running case counts."""
    rows = list(db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)))
    if not rows:
        raise NotFound(f"Processus inconnu : {key}")
    counts = running_counts(key)
    deployed = sorted((r for r in rows if r.status == "deployed"), key=lambda r: r.version, reverse=True)
    drafts = sorted((r for r in rows if r.status == "draft"), key=lambda r: r.created_at, reverse=True)
    active_id = deployed[0].id if deployed else None
    return [VersionInfo(r, counts.get(r.id, 0), r.id == active_id) for r in deployed + drafts]


@dataclass
class ProcessSummary:
    key: str
    name: str
    active: ProcessDefinition | None
    running: int
    running_old: int
    drafts: int


def overview() -> list[ProcessSummary]:
    """Every process known (deployed or draft only): active version, running cases, drafts."""
    rows = list(db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)))
    counts = running_counts()
    result: dict[str, ProcessSummary] = {}
    for r in rows:
        s = result.setdefault(r.key, ProcessSummary(r.key, r.name, None, 0, 0, 0))
        if r.status == "draft":
            s.drafts += 1
            continue
        if s.active is None or r.version > s.active.version:
            s.active = r
        s.running += counts.get(r.id, 0)
    for s in result.values():
        if s.active is not None:
            s.name = s.active.name
            s.running_old = s.running - counts.get(s.active.id, 0)
    return list(result.values())


# --- drafts -------------------------------------------------------------------------------------------

def save_draft(user: User, xml: str, *, key: str | None = None, filename: str | None = None,
               draft_id: int | None = None, strict: bool = True) -> tuple[ProcessDefinition, list[Problem]]:
    """Store a document as a draft (or update draft_id); strict refuses any blocking problem, otherwise only
    unreadable XML. Camunda's old namespace is rebound to the current one before storing (a notice says so)."""
    require_editor(user)
    if not isinstance(xml, str):
        raise ValidationFailed([Problem(None, None, "Document BPMN attendu (texte XML).")])
    original = xml
    xml, renamed = camunda_compat.normalise_text(xml)
    try:
        root = parse_xml(xml)
    except DefinitionError as exc:
        raise ValidationFailed([Problem(e, None, m) for e, m in exc.problems]) from None
    keys = executable_process_ids(root)
    guess = key or (keys[0] if keys else None)
    try:
        base = definitions.active(guess) if guess else None
    except NotFound:
        base = None
    existing = db.session.get(ProcessDefinition, draft_id) if draft_id is not None else None
    # the DMN documents go with the draft: kept from the draft saved before, else from the active version
    decisions = (existing.decisions if existing is not None else base.decisions if base is not None else None)
    tests = (existing.tests if existing is not None else base.tests if base is not None else None)
    checked_key, problems = validate(original if renamed else xml, key, decisions)  # notices from the original
    if strict and blocking(problems):
        raise ValidationFailed(blocking(problems))
    # a non-executable diagram (drawn elsewhere) is kept as a draft of its first process, to be fixed in the modeler
    key = checked_key or key or (keys[0] if keys else None) or next(iter(bpmn_xml.process_names(root)), None)
    if key is None:
        raise ValidationFailed(problems or [Problem(None, None, "Aucun processus exécutable.")])
    name = bpmn_xml.process_names(root).get(key, key)
    if base is not None and base.key != key:
        try:
            base = definitions.active(key)
        except NotFound:
            base = None

    def work():
        now = clock.now()
        if draft_id is not None:
            draft = get(draft_id)
            if draft.status != "draft":
                raise Conflict("Cette version est déployée : elle ne change plus. Enregistrez un nouveau brouillon.")
            if draft.key != key:
                raise Conflict(f"Ce brouillon concerne le processus « {draft.key} », pas « {key} ».")
        else:
            same = db.session.scalars(select(ProcessDefinition).where(
                ProcessDefinition.key == key, ProcessDefinition.status == "draft",
                ProcessDefinition.sha256 == definitions.sha256(xml, decisions))).first()
            if same is not None:  # the same document saved again: the existing draft, not a new one
                return same
            draft = ProcessDefinition(key=key, version=None, status="draft", created_by=user.username,
                                      created_at=now)
            db.session.add(draft)
        draft.name, draft.xml, draft.decisions, draft.tests = name[:200], xml, decisions, tests
        draft.sha256 = definitions.sha256(xml, decisions)
        draft.filename = (filename or draft.filename or f"{key}.bpmn")[:255]
        draft.based_on_id = base.id if base is not None else None
        draft.created_by, draft.created_at = user.username, now
        db.session.flush()
        return draft

    return commit(work), problems


def delete_draft(user: User, definition_id: int) -> None:
    """Drop a draft (deployed versions are kept forever)."""
    require_editor(user)
    draft = get(definition_id)
    if draft.status != "draft":
        raise Conflict("Une version déployée ne se supprime pas.")
    commit(lambda: db.session.delete(draft))


def deploy(user: User, definition_id: int) -> ProcessDefinition:
    """Deploy a draft as the next version, or deploy an earlier version again (as a new version: a rollback)."""
    require_editor(user)
    source = get(definition_id)
    key, problems = validate(source.xml, source.key, source.decisions)
    if blocking(problems):
        raise ValidationFailed(blocking(problems), "Le brouillon ne peut pas être déployé.")
    failed = definitions.test_problems(source.xml, source.key, source.tests, source.decisions)
    if failed:
        raise ValidationFailed([Problem(e, None, m) for e, m in failed],
                               f"{len(failed)} test(s) du processus en échec : la version n'est pas déployée.")
    try:
        current = definitions.active(source.key)
    except NotFound:
        current = None
    if current is not None and current.sha256 == source.sha256:
        raise Conflict(f"Ce document est identique à la version active (v{current.version}).")

    from_draft = source.status == "draft"

    def work():
        definitions.serialize_deployments()  # same lock as file deployments: one version number each
        now = clock.now()
        last = db.session.scalar(select(func.max(ProcessDefinition.version))
                                 .where(ProcessDefinition.key == source.key)) or 0
        if source.status == "draft":
            target = source
        else:  # an earlier version deployed again: a new version with the same document
            target = ProcessDefinition(key=source.key, name=source.name, xml=source.xml, sha256=source.sha256,
                                       filename=source.filename, created_by=user.username, created_at=now,
                                       decisions=source.decisions, tests=source.tests)
            db.session.add(target)
        target.status, target.version = "deployed", last + 1
        target.deployed_by, target.deployed_at = user.username, now
        target.based_on_id = current.id if current is not None else None
        db.session.flush()
        audit.record(None, user.username, "definition_deployed", data={
            "key": target.key, "version": target.version, "sha256": target.sha256, "filename": target.filename,
            "definition_id": target.id, "previous_version": current.version if current else None,
            "from_draft": from_draft, "decisions": definitions.decision_digests(target.decisions),
            "tests": len(target.tests or []),
            "redeployed_version": None if source.id == target.id else source.version})
        return target

    return commit(work)


# --- new process template -------------------------------------------------------------------------------

def template_xml(key: str, name: str, lane: str = "gestionnaire") -> str:
    """A minimal valid process: a lane, a start form, one user task, an end."""
    if not KEY_RE.fullmatch(key or ""):
        raise ValidationFailed([Problem(None, None, "Identifiant de processus invalide (lettres, chiffres, _ et -, "
                                        "commençant par une lettre).")])
    name = (name or key).strip()[:200]
    k, n, lane_q = escape(key), quoteattr(name), escape(lane)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" \
id="Definitions_{k}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="Collaboration_{k}">
    <bpmn:participant id="Participant_{k}" name={n} processRef="{k}" />
  </bpmn:collaboration>
  <bpmn:process id="{k}" name={n} isExecutable="true">
    <bpmn:laneSet id="LaneSet_{k}">
      <bpmn:lane id="Lane_{k}" name="{lane_q}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>ut_handle</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Demande reçue">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="customer_name" label="Client" type="string">
            <camunda:validation><camunda:constraint name="required" config="true" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="description" label="Description" type="text" />
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:outgoing>f_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="ut_handle" name="Traiter la demande" camunda:candidateGroups="{lane_q}">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="response" label="Réponse" type="text">
            <camunda:validation><camunda:constraint name="required" config="true" /></camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:incoming>f_start</bpmn:incoming>
      <bpmn:outgoing>f_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="Traitée">
      <bpmn:incoming>f_end</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="ut_handle" />
    <bpmn:sequenceFlow id="f_end" sourceRef="ut_handle" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{k}">
    <bpmndi:BPMNPlane id="Plane_{k}" bpmnElement="Collaboration_{k}">
      <bpmndi:BPMNShape id="Participant_{k}_di" bpmnElement="Participant_{k}" isHorizontal="true">
        <dc:Bounds x="120" y="80" width="600" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_{k}_di" bpmnElement="Lane_{k}" isHorizontal="true">
        <dc:Bounds x="150" y="80" width="570" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="202" y="162" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="ut_handle_di" bpmnElement="ut_handle">
        <dc:Bounds x="330" y="140" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="532" y="162" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f_start_di" bpmnElement="f_start">
        <di:waypoint x="238" y="180" /><di:waypoint x="330" y="180" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f_end_di" bpmnElement="f_end">
        <di:waypoint x="430" y="180" /><di:waypoint x="532" y="180" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def create_from_template(user: User, key: str, name: str, lane: str = "gestionnaire") -> ProcessDefinition:
    """Start a new process as a draft from the template; refuses a key already in use."""
    require_editor(user)
    if db.session.scalar(select(func.count()).where(ProcessDefinition.key == (key or ""))):
        raise Conflict(f"Le processus « {key} » existe déjà.")
    draft, _ = save_draft(user, template_xml(key, name, lane), key=key, filename=f"{key}.bpmn")
    return draft
