"""The complainant contests the answer from the tracking page: a BPMN message to the step that waits for it.

A ready user task offers it when it carries the property `contest_message` (reclamation: « Enregistrer la
réaction du client » with `reclamation_contestee`, caught by the boundary event `bt_contested`). The text and the
optional file reach the process in one transaction with their audit events and the staff notification.
"""

from __future__ import annotations

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Case, TaskRow
from app.services.cases.lifecycle import deliver_message
from app.services.core import audit, definitions
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Invalid
from app.services.core.transaction import transaction
from app.services.messaging import notifications
from app.services.public import attachments
from app.vocabulary import PARIS

COMPLAINANT = "complainant"
MAX_TEXT = 5000
CLOSED_MESSAGE = "La réponse ne peut plus être contestée en ligne : le dossier a avancé depuis. Écrivez-nous."


def contest_message(case: Case) -> str | None:
    """The BPMN message a ready step of the case waits for from the complainant's « Contester », or None."""
    if case.completed:
        return None
    pspec = definitions.spec_for(case.definition)
    for row in db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.state == "ready")):
        message = (pspec.user_tasks.get(row.bpmn_id, {}).get("properties") or {}).get("contest_message")
        if message:
            return message
    return None


def contest(case: Case, text: str | None, filename: str | None, stream) -> Case:
    """Deliver the complainant's contestation (text, optional file) to the waiting step; notify its new holders."""
    body = (text or "").strip()
    if not body:
        raise Invalid({"contest_text": "Expliquez en quelques mots ce que vous contestez."})
    if len(body) > MAX_TEXT or "\x00" in body:
        raise Invalid({"contest_text": f"{MAX_TEXT:,} caractères au maximum.".replace(",", "\u202f")})
    content = stream.read(attachments.max_bytes() + 1) if stream is not None and filename else None
    stored = None
    with transaction():  # a file stored here takes its final name once this commits (cases/files.py)
        case = lock_case(case.id)
        message = contest_message(case)
        if message is None:
            raise Conflict(CLOSED_MESSAGE)
        if content is not None:
            stored = attachments.store(case, COMPLAINANT, filename, content, field="contest_file")
            audit.record(case, COMPLAINANT, "complainant_attachment", data={**stored, "text": ""})
        today = clock.now().astimezone(PARIS).date().isoformat()
        payload = {"text": body, "on": today, "file": stored["filename"] if stored else None}
        if not deliver_message(case, message, payload, COMPLAINANT):
            raise Conflict(CLOSED_MESSAGE)
        audit.record(case, COMPLAINANT, "complaint_contested", data={"text": body, "message": message})
        notifications.for_case_holders(
            case, {"text": "Le réclamant conteste la réponse du dossier {reference} ({customer})",
                   "kind": "info"}, None)
    return case
