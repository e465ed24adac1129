"""Messages to complainants: rendered from the active template version, put in the outbox by the step."""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select

from app import clock, formatting
from app.extensions import db
from app.labels import KIND_WORDS
from app.models import Case, OutboxMessage
from app.services.core import step_writes
from app.services.core.errors import NotFound
from app.services.messaging import templates
from app.vocabulary import POSTAL_CHANNELS

KIND_LABELS = KIND_WORDS
DECISION_LABELS = {"accepted": "fondée", "partly": "partiellement fondée", "rejected": "non fondée"}
DEFAULT_MEDIATOR = ("le médiateur de la consommation dont relève notre entreprise, dont les coordonnées figurent "
                    "sur notre site internet")
AMOUNT_FIELDS = ("amount", "compensation", "credited_amount", "blocked_amount")


# Line breaks of every kind (CR, LF, VT, FF, NEL, the Unicode separators) and other control characters: in an
# e-mail header they would end the header (header injection) or make the mail library refuse the message.
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def header_value(text) -> str:
    """A value made safe for one e-mail header line: control characters and line breaks become one space."""
    return " ".join(_HEADER_BREAKS.sub(" ", str(text or "")).split())


def is_address(text) -> bool:
    """Whether the text is one plain e-mail address (nothing a header could be smuggled into)."""
    return isinstance(text, str) and len(text) <= 254 and _ADDRESS.fullmatch(text) is not None


def tracking_url(case: Case) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    root = case.parent if case.parent is not None else case  # one tracking page per complainant's thread
    return f"{base}/suivi/{root.tracking_token}"


def _plain(value):
    """Only JSON-like values reach a template (never an ORM object)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def fields(case: Case, data: dict | None = None, *, postal: bool = False) -> dict:
    """The documented template context (templates.FIELDS) of a case, with `data` and `case` for older templates."""
    data = dict(case.data or {}) if data is None else dict(data)
    config = current_app.config
    today = clock.now()
    tracking = tracking_url(case)
    values = {
        "reference": case.reference,
        "customer_name": data.get("customer_name") or case.customer_name or "",
        "customer_email": data.get("customer_email") or case.customer_email or "",
        "customer_address": data.get("customer_address") or "",
        "kind_label": KIND_LABELS.get(data.get("kind") or case.kind or "", "dossier"),
        "received": formatting.long_date(data.get("received_at") or case.received_at),
        "due": formatting.long_date(data.get("due_at") or case.due_at),
        "expected": formatting.long_date(data.get("expected_answer_on")),
        "today": formatting.long_date(today),
        "place_date": formatting.place_date(today, config.get("LETTER_PLACE")),
        "credit_note_number": data.get("credit_note_number") or "",
        "invoice_refs": data.get("invoice_refs") or case.invoice_refs or "",
        "decision": data.get("decision") or "",
        "decision_label": DECISION_LABELS.get(data.get("decision") or "", ""),
        "response_text": data.get("response_text") or "",
        "tracking_url": tracking,
        "survey_url": tracking + "/enquete",
        "mediator": config.get("MEDIATOR_TEXT") or DEFAULT_MEDIATOR,
        "sender_name": config.get("LETTER_SENDER_NAME") or "",
        "signature": config.get("LETTER_SIGNATURE") or "",
        "postal": postal,
    }
    for name in AMOUNT_FIELDS:
        try:
            values[name] = formatting.money(data.get(name) if data.get(name) not in (None, "")
                                            else getattr(case, name, None))
        except ValueError:
            values[name] = str(data.get(name))
    values["data"] = _plain(data)
    values["case"] = {"reference": case.reference, "customer_name": values["customer_name"],
                      "kind": case.kind, "status": case.status}
    return values


def render(template: str, case: Case, data: dict) -> tuple[str, str]:
    """Render the active version of a template: (subject, text body)."""
    rendered = templates.render(templates.active(template), fields(case, data))
    return header_value(rendered.subject), rendered.text


def active_templates(keys) -> dict:
    """The active versions of the templates of a step's letters, and the shared blocks, by one statement: pass
    each letter's entry to `queue` (`active=`)."""
    with db.session.no_autoflush:
        return templates.for_messages(keys)


def queue(case: Case, template: str, data: dict, *, channel: str | None = None,
          active: tuple | None = None) -> OutboxMessage:
    """Add a message for the complainant to the outbox (committed with the step that sends it).

    The text is written now from the version active now: a later edit of the template changes later messages
    only, and the row names the version it came from. `active`: the template's entry of `active_templates`, read
    by the step for all its letters (else read here).
    """
    with db.session.no_autoflush:  # the templates do not depend on the step's pending changes: flushed at commit
        row, blocks = active if active is not None else templates.for_message(template)
        email = data.get("customer_email")
        address = data.get("customer_address")
        channel = choose_channel(channel, email, address)
        rendered = templates.render(row, fields(case, data, postal=channel in POSTAL_CHANNELS), blocks)
    now = clock.now()
    values = {
        **_EMPTY, "case_id": case.id, "template": template, "channel": channel,
        "recipient": (email if channel == "email" else None) or address or data.get("customer_name"),
        "subject": header_value(rendered.subject), "body": rendered.text, "body_html": rendered.html,
        "template_version_id": row.id, "recipient_name": data.get("customer_name") or case.customer_name,
        "postal_address": address, "status": "pending", "attempts": 0, "created_at": now, "next_attempt_at": now,
    }
    # Written at once by a prebuilt INSERT (its id is known without a flush of the step's other changes), then
    # held by the session as a loaded row: what the transaction reads of it afterwards is what was written.
    if case.id is None:
        db.session.flush()
        values["case_id"] = case.id
    with db.session.no_autoflush:
        values["id"] = db.session.execute(_INSERT, values).scalar_one()
        message = OutboxMessage(**values)
        db.session.add(message)
        step_writes.written(db.session, message)  # held as written: a rollback drops it from the session
    return message


_TABLE = OutboxMessage.__table__
_INSERT = _TABLE.insert().returning(_TABLE.c.id)
_EMPTY = {column.key: None for column in _TABLE.columns if column.key != "id"}


def choose_channel(requested: str | None, email: str | None, address: str | None) -> str:
    """The channel asked for (BPMN property `channel`) when the complainant can be reached by it, else e-mail
    when there is an address, else a letter."""
    if requested in POSTAL_CHANNELS and address:
        return requested
    return "email" if email else "letter"


def needs_pdf(message: OutboxMessage, kind: str | None) -> bool:
    """A posted letter is a PDF; an e-mail of a letter template (response, rejection...) carries the PDF too."""
    return message.channel in POSTAL_CHANNELS or kind == "letter"


def case_by_reference(reference: str | None) -> Case:
    case = db.session.scalars(select(Case).where(Case.reference == (reference or "").strip().upper())).first()
    if case is None:
        raise NotFound(f"Dossier inconnu : « {(reference or '').strip()[:40]} ».")
    return case


def preview(subject: str, body: str, reference: str | None, *, postal: bool = False) -> templates.Rendered:
    """A template's text (saved or not) rendered with a real case's fields; Invalid if it does not compile."""
    templates.check(subject or "", body or "")
    case = case_by_reference(reference)
    return templates.render_source(subject or "", body or "", fields(case, postal=postal))


def recent_references(limit: int = 20) -> list[str]:
    """Recent case references, to pick one for a preview."""
    return list(db.session.scalars(select(Case.reference).order_by(Case.created_at.desc(), Case.id.desc())
                                   .limit(limit)))


def preview_letter(subject: str, body: str, reference: str | None) -> tuple[bytes, str]:
    """A letter template (saved or not) laid out as the PDF a real case would get; nothing is kept."""
    from app.services.messaging import letters

    rendered = preview(subject, body, reference, postal=True)
    case = case_by_reference(reference)
    data = case.data or {}
    message = OutboxMessage(id=0, case_id=case.id, template="preview", channel="letter", subject=rendered.subject,
                            body=rendered.text, body_html=rendered.html, created_at=clock.now(),
                            recipient_name=data.get("customer_name") or case.customer_name,
                            postal_address=data.get("customer_address"))
    return letters.render_pdf(message, case), f"apercu-modele-{case.reference}.pdf"
