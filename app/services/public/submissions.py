"""Public-form submissions merged into an existing case: unverified until staff accept them.

Anyone who knows a complainant's e-mail and an invoice number can send the public form; when it matches an
open case, the submission is put on that case instead of opening a second one (intake.file_intake). Nothing
proves the complainant wrote it, so staff see it as « Dépôt reçu du formulaire public, non vérifié » and the
tracking page does not show it as the complainant's own message until staff accept it (an audit event).
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Case, User
from app.services.core import audit
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Forbidden, NotFound
from app.services.core.transaction import use_case
from app.vocabulary import STAFF_GROUPS, is_read_only

MERGED, ACCEPTED = "public_intake_merged", "public_intake_accepted"


def accepted_seqs(case_id: int) -> set[int]:
    """The seqs of the case's merged submissions that staff accepted."""
    rows = db.session.scalars(select(AuditEvent.data).where(AuditEvent.case_id == case_id,
                                                            AuditEvent.type == ACCEPTED))
    return {int((data or {}).get("seq") or 0) for data in rows}


@use_case
def accept(user: User, reference: str, seq: int) -> Case:
    """Record that staff checked a merged public submission: from now on the complainant sees it as theirs."""
    if not user.in_any(*STAFF_GROUPS) or is_read_only(user):
        raise Forbidden("Action réservée au service qui traite le dossier.")
    found = db.session.scalars(select(Case.id).where(Case.reference == reference)).first()
    if found is None:
        raise NotFound("Dossier inconnu.")
    case = lock_case(found)  # the case row lock before its writes (case_lock); also serializes two accepts
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.seq == seq,
                                                        AuditEvent.type == MERGED)).first()
    if event is None:
        raise NotFound("Dépôt inconnu sur ce dossier.")
    if seq in accepted_seqs(case.id):
        raise Conflict("Ce dépôt a déjà été accepté.")
    audit.record(case, user.username, ACCEPTED, data={"seq": seq})
    return case
