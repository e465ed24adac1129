"""Which case an incoming e-mail belongs to: our Message-IDs it answers, the sender's own earlier messages,
then the case reference in its subject (from the case's own complainant only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Case, IngestedMail, OutboxMessage
from app.services.mailbox.parsing import ParsedMail
from app.services.messaging import conversation

# The ingested mails that sit on a case as the complainant's words (replies to them thread too).
ON_CASE = ("case_opened", "merged", "threaded", "auto_reply")


@dataclass
class Match:
    case: Case
    how: str  # in_reply_to | references | subject


def _by_message_id(mid: str) -> Case | None:
    ref = conversation.outbox_ref(mid)
    if ref is not None:
        outbox = db.session.get(OutboxMessage, ref[0])
        if outbox is not None and outbox.case_id == ref[1]:
            return db.session.get(Case, outbox.case_id)
        return None
    row = db.session.scalars(select(IngestedMail).where(
        IngestedMail.message_id == mid, IngestedMail.case_id.is_not(None),
        IngestedMail.status.in_(ON_CASE)).order_by(IngestedMail.id).limit(1)).first()
    return db.session.get(Case, row.case_id) if row is not None else None


def find_case(parsed: ParsedMail) -> Match | None:
    """The case a message answers, or None for a new conversation."""
    for header, how in ((parsed.in_reply_to, "in_reply_to"), (parsed.references, "references")):
        ids = conversation.message_ids(header)
        for mid in reversed(ids) if how == "references" else ids:  # the latest reference first
            case = _by_message_id(mid)
            if case is not None:
                return Match(case, how)
    found = conversation.REFERENCE_IN_SUBJECT.search(parsed.subject or "")
    if found and parsed.sender_address:
        case = db.session.scalars(select(Case).where(Case.reference == found.group(1))).first()
        # A reference is easy to copy: only the case's own complainant threads by it; anyone else opens a case.
        if case is not None and (case.customer_email or "").strip().lower() == parsed.sender_address:
            return Match(case, "subject")
    return None
