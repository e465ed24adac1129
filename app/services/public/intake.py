"""Complainants without an account: the public intake form, the tracking page, additions and the survey.

The public form is a documented entry point of a process (process property `public_intake=true`), so the
case is started as actor `public` without the start-lane check that applies to staff. Nothing returned by
this module to the public pages carries internal data: only the fields of the dataclasses below.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.orm import lazyload

from app.extensions import db
from app.forms.fields import FieldSpec, validate_submission
from app.labels import KIND_WORDS, PUBLIC_STATUS_LABELS
from app.models import AuditEvent, Case, OutboxMessage, TaskRow
from app.services.cases import lifecycle as cases
from app.services.cases.duplicates import find_duplicates, invoice_refs
from app.services.core import audit, definitions
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Invalid, NotFound
from app.services.core.transaction import transaction
from app.services.messaging import messages, notifications
from app.services.public import attachments, contest, submissions

PUBLIC_ACTOR = "public"
COMPLAINANT = "complainant"
# What the web channel is, whatever the form says: written, received through the web form.
FIXED_VALUES = {"channel": "web", "written": "yes"}
# Start-form fields only staff fill in (more can be listed in the process property public_hidden_fields).
STAFF_ONLY = ("received_at",)
CONTACT_MESSAGE = "Indiquez une adresse e-mail ou une adresse postale pour recevoir notre réponse."
# Audit events the complainant produced: the tracking page shows them back (their own words only). A public
# submission merged into the case is shown only once staff accepted it (submissions.py): it is unverified.
OWN_EVENTS = ("complainant_message", "complainant_attachment", "public_intake_merged")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


# --- intake ----------------------------------------------------------------------------------------------

@dataclass
class IntakeForm:
    process_key: str
    process_name: str
    fields: list[FieldSpec]


@dataclass
class IntakeResult:
    case: Case
    merged: bool = False  # the intake was recorded on an open case of the same complainant instead


def intake_form() -> IntakeForm:
    """The public intake: the first active process declaring public_intake=true, and its public fields."""
    for definition in definitions.all_active():
        pspec = definitions.spec_for(definition)
        if str(pspec.properties.get("public_intake", "")).strip().lower() == "true":
            hidden = _hidden_fields(pspec.properties)
            fields = [f for f in pspec.start_form if f.name not in hidden and f.name not in FIXED_VALUES]
            return IntakeForm(definition.key, pspec.name, fields)
    raise NotFound("Le dépôt en ligne n'est pas disponible.")


def _hidden_fields(properties: dict) -> set[str]:
    extra = str(properties.get("public_hidden_fields") or "")
    return set(STAFF_ONLY) | {name.strip() for name in extra.split(",") if name.strip()}


def file_intake(raw: dict, filename: str | None = None, stream=None) -> IntakeResult:
    """Validate a public submission (and its optional file); record it on a matching open case, or start a new
    case as `public`."""
    form = intake_form()
    names = {f.name for f in form.fields}
    if not isinstance(raw, dict):
        raise Invalid({"form": "Formulaire invalide."})
    pspec = definitions.spec_for(definitions.active(form.process_key))
    fixed = {k: v for k, v in FIXED_VALUES.items() if any(f.name == k for f in pspec.start_form)}
    visible = [f for f in pspec.start_form if f.name in names or f.name in fixed]
    clean, errors = validate_submission(visible, {**raw, **fixed}, html=True)
    if not errors and not (clean.get("customer_email") or clean.get("customer_address")):
        errors["customer_email"] = CONTACT_MESSAGE
    content = stream.read(attachments.max_bytes() + 1) if stream is not None and filename else None
    if content == b"":
        errors["attachment"] = "Le fichier est vide."
    if errors:
        raise Invalid(errors)
    with transaction():  # a file stored here takes its final name once this commits (cases/files.py)
        result = record_intake(form.process_key, clean)
        if content is not None:  # the file filed with the form, on the case it went to
            stored = attachments.store(result.case, COMPLAINANT, filename, content, field="attachment")
            audit.record(result.case, COMPLAINANT, "complainant_attachment",
                         data={**stored, "text": "", "at_intake": True})
    return result


def record_intake(process_key: str, clean: dict, *, actor: str = PUBLIC_ACTOR, channel: str = "web") -> IntakeResult:
    """In the current transaction: record validated intake data on a matching open case of the same complainant
    (the public merge rules), or start a new case as `actor` and flag its weaker resemblances. The web form and
    the mailbox (app/services/mailbox) share it."""
    _serialize_per_email(clean.get("customer_email"))
    existing = find_strong_duplicate(process_key, clean)
    if existing is not None:
        _merge_intake(existing, clean, actor=actor, channel=channel)
        return IntakeResult(existing, merged=True)
    case = cases.create_case(actor, process_key, clean)
    _flag_possible_duplicates(case, clean, actor=actor)
    return IntakeResult(case)


def _serialize_per_email(email: str | None) -> None:
    """On PostgreSQL, one intake at a time per e-mail (transaction lock): a double click or two tabs sending
    the same complaint at once give one case and one merged intake, not two cases."""
    if email and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sql("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                           {"key": "public-intake:" + email.strip().lower()})


def _words(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def find_strong_duplicate(process_key: str, clean: dict) -> Case | None:
    """An open case of the same complainant about the same thing: same e-mail and a common invoice, or the
    same e-mail and the same description (a resubmission). Weaker resemblances are left to staff."""
    email = (clean.get("customer_email") or "").strip().lower()
    if not email:
        return None
    query = (select(Case).options(lazyload(Case.definition)).where(
        Case.process_key == process_key, Case.completed.is_(False),
                                func.lower(Case.customer_email) == email).order_by(Case.created_at))
    refs, description = invoice_refs(clean.get("invoice_refs")), _words(clean.get("description"))
    for case in db.session.scalars(query.limit(50)):
        if (case.customer_email or "").strip().lower() != email:
            continue
        if refs & invoice_refs(case.invoice_refs) or (description and _words((case.data or {}).get("description"))
                                               == description):
            return case
    return None


def _flag_possible_duplicates(case: Case, clean: dict, *, actor: str = PUBLIC_ACTOR) -> None:
    """Weaker resemblances (same name, same invoice from another address, similar text) are not merged:
    the new case records them so staff can link or close it from the case page."""
    found = find_duplicates(clean, exclude_id=case.id)
    if found:
        audit.record(case, actor, "possible_duplicates", data={"candidates": [
            {"reference": d.case.reference, "reasons": d.reasons} for d in found]})


def _merge_intake(case: Case, clean: dict, *, actor: str = PUBLIC_ACTOR, channel: str = "web") -> None:
    """Put the new submission on the existing case's timeline, unverified (staff accept it or not), and tell
    the address on file, with that case's tracking link: never the submitter, who may not be the complainant."""
    case = lock_case(case.id)  # the case row lock before its writes (case_lock)
    audit.record(case, actor, submissions.MERGED, data={"channel": channel, "data": clean})
    # The case's own data only: the recipient is the case's address, and the submitted text is not echoed.
    message = messages.queue(case, "intake_merged", dict(case.data or {}))
    audit.record(case, actor, "message_sent", data={
        "template": message.template, "channel": message.channel, "recipient": message.recipient,
        "subject": message.subject, "outbox_id": message.id,
        "template_version_id": message.template_version_id})


# --- tracking ----------------------------------------------------------------------------------------------

@dataclass
class PublicMessage:
    at: datetime
    subject: str
    body: str
    about: str = ""  # « Litige LIT-2026-000004 » for a letter of a dispute this complaint opened


@dataclass
class Contribution:
    at: datetime
    kind: str  # message | attachment | intake
    text: str = ""
    filename: str = ""


@dataclass
class Tracking:
    """Everything the tracking page may show, and nothing else."""

    token: str
    reference: str
    process_name: str
    kind_label: str
    status_label: str
    received_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    open: bool
    survey_open: bool
    messages: list[PublicMessage] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    description: str = ""  # what the complainant wrote at intake
    expected_remedy: str = ""
    can_add: bool = False  # « Compléter votre dossier » while the case is being handled
    can_contest: bool = False  # « Contester la réponse » while the answer waits for the complainant's reaction
    related: list[tuple[str, str]] = field(default_factory=list)  # (reference, status) of the disputes opened


def case_by_token(token: str) -> Case:
    """The case (the thread's complaint) of a tracking token, or NotFound (same answer for malformed and unknown)."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise NotFound("Lien de suivi inconnu.")
    case = db.session.scalars(select(Case).where(Case.tracking_token == token)).first()
    # The lookup uses the unique index; the final check compares in constant time all the same.
    if case is None or not hmac.compare_digest(case.tracking_token.encode(), token.encode()):
        raise NotFound("Lien de suivi inconnu.")
    # one thread per complainant: a dispute's link opens the complaint it came from
    return case.parent if case.parent is not None else case


def tracking(token: str) -> Tracking:
    """The public view of a case: status, dates, messages sent to the complainant and their own additions."""
    case = case_by_token(token)
    pspec = definitions.spec_for(case.definition)
    children = list(db.session.scalars(select(Case).where(Case.parent_id == case.id).order_by(Case.id)))
    about = {c.id: f"{definitions.spec_for(c.definition).name} {c.reference}" for c in children}
    sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id.in_([case.id, *about]))
                              .order_by(OutboxMessage.created_at, OutboxMessage.id))
    own = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.type.in_(OWN_EVENTS))
                             .order_by(AuditEvent.seq))
    accepted = submissions.accepted_seqs(case.id)
    own = [e for e in own if e.type != submissions.MERGED or e.seq in accepted]
    data = case.data or {}
    return Tracking(
        token=token, reference=case.reference, process_name=pspec.name,
        kind_label=KIND_WORDS.get(case.kind or "", "dossier").capitalize(),
        status_label=PUBLIC_STATUS_LABELS.get(case.status, "En cours de traitement"),
        received_at=case.received_at or case.created_at,
        due_at=case.due_at if case.status in ("open", "in_progress") else None,
        closed_at=case.closed_at if case.status == "closed" else None, open=not case.completed,
        survey_open=survey_task(case)[0] is not None,
        messages=[PublicMessage(m.created_at, m.subject, m.body, about.get(m.case_id, "")) for m in sent],
        contributions=[_contribution(e) for e in own],
        description=str(data.get("description") or ""), expected_remedy=str(data.get("expected_remedy") or ""),
        can_add=accepts_additions(case), can_contest=contest.contest_message(case) is not None,
        related=[(c.reference, PUBLIC_STATUS_LABELS.get(c.status, "En cours de traitement")) for c in children],
    )


def accepts_additions(case: Case) -> bool:
    """Additions are for a case being handled: not once it is closed (even while its survey waits)."""
    return not case.completed and case.status != "closed"


def contest_answer(token: str, text: str | None, filename: str | None, stream) -> Case:
    """« Contester la réponse » from the tracking page (see app/services/public/contest.py)."""
    return contest.contest(case_by_token(token), text, filename, stream)


def _contribution(event: AuditEvent) -> Contribution:
    data = event.data or {}
    if event.type == "complainant_attachment":
        return Contribution(event.at, "attachment", text=str(data.get("text") or ""),
                            filename=str(data.get("filename") or ""))
    if event.type == "public_intake_merged":
        return Contribution(event.at, "intake", text=str((data.get("data") or {}).get("description") or ""))
    return Contribution(event.at, "message", text=str(data.get("text") or ""))


# --- survey ------------------------------------------------------------------------------------------------

def _is_survey(pspec, bpmn_id: str) -> bool:
    return (pspec.user_tasks.get(bpmn_id, {}).get("properties") or {}).get("public_form") == "survey"


def survey_task(case: Case) -> tuple[TaskRow | None, list[FieldSpec]]:
    """The case's ready task marked public_form=survey, with its form fields, or (None, [])."""
    pspec = definitions.spec_for(case.definition)
    rows = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready"))
    for row in rows:
        if _is_survey(pspec, row.bpmn_id):
            return row, list(pspec.user_tasks[row.bpmn_id]["form"])
    return None, []


def survey_closed_reason(case: Case) -> str:
    """Why there is no survey to answer, in plain French."""
    pspec = definitions.spec_for(case.definition)
    rows = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state != "ready")
                              .order_by(TaskRow.completed_at.desc()))
    for row in rows:
        if _is_survey(pspec, row.bpmn_id):
            if row.state == "completed":
                return "Votre réponse à l'enquête de satisfaction a déjà été enregistrée. Merci !"
            return "L'enquête de satisfaction de ce dossier est close : le délai de réponse est dépassé."
    return "Aucune enquête de satisfaction n'est ouverte pour ce dossier."


def survey(token: str) -> tuple[Case, list[FieldSpec], str | None]:
    """The case, the survey's fields, and why it cannot be answered (None when it can)."""
    case = case_by_token(token)
    row, fields = survey_task(case)
    return case, fields, None if row is not None else survey_closed_reason(case)


def answer_survey(token: str, raw: dict) -> Case:
    """Complete the case's survey task as the complainant (no lane check: the token is the permission)."""
    case = lock_case(case_by_token(token).id)  # first: the survey task found next is the committed one
    row, _fields = survey_task(case)
    if row is None:
        raise Conflict(survey_closed_reason(case))
    return cases.complete_row(row, COMPLAINANT, raw, html=True)


# --- additions from the complainant -----------------------------------------------------------------------

MAX_MESSAGE = 5000


def add_information(token: str, text: str | None, filename: str | None, stream) -> Case:
    """Add a message and/or a file from the complainant to an open case, as audit events staff see."""
    case = case_by_token(token)
    body = (text or "").strip()
    errors = {}
    if len(body) > MAX_MESSAGE or "\x00" in body:
        errors["text"] = f"{MAX_MESSAGE} caractères au maximum, sans caractères de contrôle."
    content = stream.read(attachments.max_bytes() + 1) if stream is not None and filename else None
    if content == b"":
        errors["attachment"] = "Le fichier est vide."
    if not body and content is None and not errors:
        errors["text"] = "Écrivez un message ou joignez un fichier."
    if errors:
        raise Invalid(errors)
    case = lock_case(case.id)  # the case row lock before its writes (case_lock); closed meanwhile?
    if not accepts_additions(case):
        raise Conflict("Ce dossier est clos : pour une nouvelle demande, déposez une nouvelle réclamation.")
    with transaction():  # a file stored here takes its final name once this commits (cases/files.py)
        if content is not None:
            stored = attachments.store(case, COMPLAINANT, filename, content, field="attachment")
            audit.record(case, COMPLAINANT, "complainant_attachment", data={**stored, "text": body})
        else:
            audit.record(case, COMPLAINANT, "complainant_message", data={"text": body})
        # Whoever holds the case hears of it (e.g. a task waiting for the complainant, its clock paused).
        notifications.for_case_holders(
            case, {"text": "Le réclamant a ajouté une information au dossier {reference}", "kind": "info"}, None)
    return case


# --- lost tracking link ------------------------------------------------------------------------------------

def resend_link(reference: str | None, email: str | None) -> None:
    """Send the tracking link again to the e-mail on file when reference and e-mail match; silent otherwise,
    so the answer never tells whether a reference exists or whose it is."""
    reference, email = (reference or "").strip().upper(), (email or "").strip().lower()
    errors = {}
    if not re.fullmatch(r"[A-Z]{2,10}-\d{4}-\d{1,9}", reference):
        errors["reference"] = "Référence attendue, par exemple REC-2026-000123."
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or len(email) > 254:
        errors["email"] = "Adresse e-mail attendue."
    if errors:
        raise Invalid(errors)
    case = db.session.scalars(select(Case).where(Case.reference == reference)).first()
    if case is None or (case.customer_email or "").strip().lower() != email:
        return
    with transaction():
        lock_case(case.id)
        message = messages.queue(case, "tracking_link", dict(case.data or {}))
        audit.record(case, PUBLIC_ACTOR, "message_sent", data={
            "template": message.template, "channel": message.channel, "recipient": message.recipient,
            "subject": message.subject, "outbox_id": message.id, "requested": "tracking_link",
            "template_version_id": message.template_version_id})
