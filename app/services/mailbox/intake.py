"""One incoming e-mail, exactly once: a new case (public intake rules), a reply threaded onto its case (and the
BPMN message `complainant_reply` delivered to it), an automatic reply recorded, a delivery report applied to
the outbox, or the mail held in quarantine. Everything for one mail is one transaction, keyed by Message-ID."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

from app import clock
from app.extensions import db
from app.forms.fields import validate_submission
from app.models import Attachment, Case, IngestedMail, OutboxMessage
from app.services.cases import files
from app.services.cases import lifecycle as cases
from app.services.cases.notes import clean_filename
from app.services.core import audit, definitions
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Invalid, ServiceError
from app.services.core.transaction import transaction
from app.services.mailbox import parsing, threads
from app.services.mailbox.parsing import ParsedMail
from app.services.messaging import conversation, notifications
from app.services.public import attachments
from app.services.public import intake as public

MAIL_ACTOR = "mail"
COMPLAINANT = public.COMPLAINANT
REPLY_MESSAGE = "complainant_reply"  # the BPMN message a step waiting for the complainant catches
MAX_TEXT = 10000
RETRIES = 3  # a case changed by someone else meanwhile (409) is retried on its new state
NO_TEXT = "(Message sans texte : voir le message d'origine joint au dossier.)"
log = logging.getLogger("reclamations.mailbox")


@dataclass
class Outcome:
    mail_id: int
    status: str
    reference: str | None = None
    duplicate: bool = False  # already ingested: nothing done
    reason: str | None = None


def _outcome(row: IngestedMail, duplicate: bool = False) -> Outcome:
    case = db.session.get(Case, row.case_id) if row.case_id else None
    return Outcome(row.id, row.status, case.reference if case else None, duplicate, row.reason)


def by_key(key: str) -> IngestedMail | None:
    return db.session.scalars(select(IngestedMail).where(IngestedMail.dedupe_key == key)).first()


def max_bytes() -> int:
    return int(current_app.config.get("MAIL_MAX_BYTES") or 25 * 1024 * 1024)


def blocked_senders() -> list[str]:
    """MAIL_BLOCKED_SENDERS: addresses or @domains, separated by commas, spaces or semicolons."""
    raw = str(current_app.config.get("MAIL_BLOCKED_SENDERS") or "")
    return [e.strip().lower() for e in raw.replace(";", ",").replace(" ", ",").split(",") if e.strip()]


def hold_reason(parsed: ParsedMail) -> str | None:
    """Why a message goes to quarantine instead of being processed, in French; None when it can go on."""
    if parsed.size > max_bytes():
        return (f"Message trop volumineux : {parsed.size / 1048576:.1f} Mo "
                f"({max_bytes() // 1048576} Mo au maximum).").replace(".", ",", 1)
    if parsed.problem:
        return parsed.problem
    sender = parsed.sender_address or ""
    for entry in blocked_senders():
        if sender == entry or (entry.startswith("@") and sender.endswith(entry)):
            return f"Expéditeur bloqué ({sender})."
    return None


# --- the entry point ---------------------------------------------------------------------------------------

def ingest(raw: bytes, *, source: str | None = None) -> Outcome:
    """Process one fetched message once; a second call with the same message changes nothing. A bad message
    never raises: it is quarantined with its error (only a lost database does, and then nothing was written)."""
    parsed = parsing.parse(raw, own_address=current_app.config.get("MAIL_FROM"))
    key = parsing.dedupe_key(parsed)
    existing = by_key(key)
    if existing is not None:
        return _outcome(existing, duplicate=True)
    for _attempt in range(RETRIES):
        try:
            return process(raw, parsed, key=key, source=source)
        except Conflict:
            db.session.rollback()
            existing = by_key(key)  # another fetcher recorded it first (the unique key): a duplicate
            if existing is not None:
                return _outcome(existing, duplicate=True)
            continue  # the case changed meanwhile (a user completed a step): try again on its new state
        except Invalid as exc:
            return quarantine(raw, parsed, key, source, "Données refusées : " + " ; ".join(
                f"{label} : {message}" for label, message in exc.errors.items()))
        except ServiceError as exc:  # e.g. no process open to public intake: held until staff release it
            return quarantine(raw, parsed, key, source, exc.message)
        except Exception as exc:
            if _database_error(exc):
                raise
            log.exception("mail %s could not be processed", parsed.message_id or parsed.raw_sha256)
            return quarantine(raw, parsed, key, source, f"Erreur de traitement ({type(exc).__name__}).")
    return quarantine(raw, parsed, key, source, "Conflit d'écriture répété : message mis de côté, à relâcher.")


def _database_error(exc: Exception) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


def _new_row(parsed: ParsedMail, key: str, source: str | None) -> IngestedMail:
    row = IngestedMail(
        dedupe_key=key, message_id=parsed.message_id, references=(parsed.references or "")[:4000] or None,
        raw_sha256=parsed.raw_sha256, size=parsed.size, source=(source or "")[:300] or None,
        received_at=clock.now(), sender_address=parsed.sender_address, sender_name=parsed.sender_name,
        subject=parsed.subject[:300] or None, status="quarantined")
    db.session.add(row)
    db.session.flush()  # the unique key: a second fetcher of the same mail waits here, then fails
    return row


def _write_file(content: bytes) -> str:
    """Stage a file under its temporary name (published once the transaction commits: cases/files.py)."""
    return files.stage(content).name


def quarantine(raw: bytes, parsed: ParsedMail, key: str, source: str | None, reason: str) -> Outcome:
    """Hold a message for staff (its own transaction), keeping the raw bytes so it can be released."""
    with transaction():
        row = by_key(key) or _new_row(parsed, key, source)
        row.status, row.reason = "quarantined", reason[:2000]
        if not row.stored_name:
            row.stored_name = _write_file(raw)
        return _outcome(row)


def process(raw: bytes, parsed: ParsedMail, *, key: str, source: str | None = None,
            row: IngestedMail | None = None, release_by: str | None = None) -> Outcome:
    """Decide and apply what one message becomes, in one transaction (a release reuses the quarantined row)."""
    with transaction():
        return _decide(raw, parsed, key, source, row, release_by)


def _decide(raw: bytes, parsed: ParsedMail, key: str, source: str | None, row: IngestedMail | None,
            release_by: str | None) -> Outcome:
    """What the message becomes, inside process()'s transaction (files staged, published once it commits)."""
    if row is None:
        row = _new_row(parsed, key, source)
        reason = hold_reason(parsed)
        if reason:
            row.reason, row.stored_name = reason, _write_file(raw)
            return _outcome(row)
    else:  # a release: claimed atomically, so two staff members releasing at once give one case
        taken = db.session.execute(update(IngestedMail).where(
            IngestedMail.id == row.id, IngestedMail.status == "quarantined")
            .values(status="released").execution_options(synchronize_session=False)).rowcount
        if taken != 1:
            raise Conflict("Ce courriel n'est plus en quarantaine.")
        db.session.refresh(row)
        row.reason, row.handled_by, row.handled_at = None, release_by, clock.now()
    _route(row, raw, parsed)
    return _outcome(row)


def _route(row: IngestedMail, raw: bytes, parsed: ParsedMail) -> None:
    if parsed.bounce is not None:
        _apply_bounce(row, parsed)
        return
    match = threads.find_case(parsed)
    if parsed.auto_reason:
        row.status, row.reason = "auto_reply", parsed.auto_reason
        if match is not None:  # e.g. an out-of-office answer to our acknowledgment: on the timeline, no step moves
            case = lock_case(match.case.id)
            row.case_id = case.id
            audit.record(case, MAIL_ACTOR, "mail_auto_reply", data={
                "mail_id": row.id, "subject": parsed.subject, "from": parsed.sender_address,
                "reason": parsed.auto_reason})
        return
    if match is not None:
        match.case = lock_case(match.case.id)  # closed meanwhile? decided on the committed state
    if match is not None and not match.case.completed:
        _thread(row, match, raw, parsed)
    else:
        _open(row, raw, parsed, previous=match.case if match else None)


# --- a new message: a case, under the public intake rules ---------------------------------------------------

def _text(parsed: ParsedMail) -> str:
    text = parsed.text or parsed.subject or NO_TEXT
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT - 80].rstrip() + "\n[…] (texte complet dans le message d'origine joint au dossier)"
    return text


def _open(row: IngestedMail, raw: bytes, parsed: ParsedMail, previous: Case | None) -> None:
    form = public.intake_form()
    pspec = definitions.spec_for(definitions.active(form.process_key))
    names = {f.name for f in form.fields} | {"channel", "written"}
    visible = [f for f in pspec.start_form if f.name in names]
    values = {f.name: f.default for f in visible if f.default not in (None, "") and f.type != "boolean"}
    name = parsed.sender_name or (parsed.sender_address or "").partition("@")[0] or "Expéditeur inconnu"
    values.update({"channel": "email", "written": "yes", "customer_name": name[:200],
                   "customer_email": parsed.sender_address, "description": _text(parsed)})
    values.setdefault("kind", "complaint")  # a mail is a complaint unless staff requalify it (no default in the form)
    values = {k: v for k, v in values.items() if any(f.name == k for f in visible)}
    clean, errors = validate_submission(visible, values)
    if errors:  # shown to staff on the quarantine page: the fields' French labels, not their names
        labels = {f.name: f.label for f in visible}
        raise Invalid({labels.get(name, name): message for name, message in errors.items()})
    if parsed.subject:
        clean["mail_subject"] = parsed.subject
    result = public.record_intake(form.process_key, clean, actor=MAIL_ACTOR, channel="email")
    case = lock_case(result.case.id)
    row.status, row.case_id = ("merged" if result.merged else "case_opened"), case.id
    if previous is not None:  # a reply to a closed case: a new case, which names the earlier one for staff
        audit.record(case, MAIL_ACTOR, "possible_duplicates", data={"candidates": [
            {"reference": previous.reference, "reasons": ["réponse par e-mail à ce dossier clos"]}]})
    _attach(case, row, raw, parsed)


# --- a reply: on its case's timeline, and the step waiting for it moves -------------------------------------

def _thread(row: IngestedMail, match: threads.Match, raw: bytes, parsed: ParsedMail) -> None:
    case = lock_case(match.case.id)
    row.status, row.case_id = "threaded", case.id
    text = _text(parsed)
    audit.record(case, COMPLAINANT, "complainant_message", data={
        "text": text, "channel": "email", "subject": parsed.subject, "mail_id": row.id, "threaded_by": match.how})
    _attach(case, row, raw, parsed)
    cases.deliver_message(case, REPLY_MESSAGE, {
        "text": text[:2000], "subject": parsed.subject, "from": parsed.sender_address, "mail_id": row.id,
        "received_at": row.received_at.isoformat()}, COMPLAINANT, record_ignored=False)
    notifications.for_case_holders(case, {"text": "Le réclamant a répondu par e-mail au dossier {reference}",
                                          "kind": "info"}, None)


def _attach(case: Case, row: IngestedMail, raw: bytes, parsed: ParsedMail) -> None:
    """The mail's files under the public form's rules (refused ones are named), and the original .eml."""
    for part in parsed.attachments:
        try:
            stored = attachments.store(case, COMPLAINANT, part.filename, part.content, field="attachment")
        except Invalid as exc:
            audit.record(case, MAIL_ACTOR, "mail_attachment_refused", data={
                "mail_id": row.id, "filename": clean_filename(part.filename), "size": len(part.content),
                "reason": "; ".join(exc.errors.values())})
            continue
        audit.record(case, COMPLAINANT, "complainant_attachment", data={
            **stored, "text": "", "channel": "email", "mail_id": row.id})
    stored_name = _write_file(raw)
    original = Attachment(case_id=case.id, filename=f"courriel-{row.id}.eml", stored_name=stored_name,
                          content_type="message/rfc822", size=len(raw), sha256=parsed.raw_sha256,
                          uploaded_by=MAIL_ACTOR, uploaded_at=clock.now())
    db.session.add(original)
    db.session.flush()
    audit.record(case, MAIL_ACTOR, "attachment_added", data={
        "attachment_id": original.id, "filename": original.filename, "size": original.size,
        "sha256": original.sha256, "mail_id": row.id, "message_id": parsed.message_id})


# --- a delivery report: the outgoing message failed -----------------------------------------------------------

def _apply_bounce(row: IngestedMail, parsed: ParsedMail) -> None:
    bounce = parsed.bounce
    row.status = "bounce"
    candidates = [bounce.original_message_id] + conversation.message_ids(parsed.in_reply_to) + \
        conversation.message_ids(parsed.references)
    message = None
    for mid in candidates:
        ref = conversation.outbox_ref(mid)
        if ref is not None:
            found = db.session.get(OutboxMessage, ref[0])
            if found is not None and found.case_id == ref[1]:
                message = found
                break
    detail = " ".join(x for x in (bounce.status, bounce.diagnostic) if x)[:500]
    row.reason = f"Avis de non-remise ({bounce.recipient or 'destinataire inconnu'}) : {detail or 'sans détail'}"
    if message is None:
        row.reason += " — message d'origine inconnu."
        return
    case = lock_case(message.case_id)
    row.case_id = case.id
    message.status, message.next_attempt_at, message.claimed_at = "failed", None, None
    message.last_error = f"Non remis : {detail or 'avis de non-remise'}"[:2000]
    audit.record(case, "system", "message_bounced", data={
        "outbox_id": message.id, "template": message.template, "recipient": bounce.recipient or message.recipient,
        "status": bounce.status, "diagnostic": bounce.diagnostic, "mail_id": row.id})
    recipient = (message.recipient or "").replace("{", "(").replace("}", ")")
    text = f"Message non remis au réclamant ({recipient}) : dossier {{reference}}"
    sent = notifications.for_case_holders(case, {"text": text, "kind": "escalation"}, None)
    if not sent:  # nobody holds a task (a closed case): the reception desk hears of it
        notifications.add(text=text.replace("{reference}", case.reference), kind="escalation", group="accueil",
                          case=case)

