"""Messages to complainants: rendered from templates/messages/, stored in the outbox by the step's transaction."""

from flask import current_app, render_template

from app import clock
from app.extensions import db
from app.labels import KIND_WORDS
from app.models import Case, OutboxMessage


def _fmt_date(value) -> str:
    from app.services.core.handlers import parse_moment
    from app.vocabulary import PARIS

    parsed = parse_moment(value)
    # Paris dates: a date-only value is midnight in Paris, which is the day before in UTC.
    return parsed[0].astimezone(PARIS).strftime("%d/%m/%Y") if parsed else ""


def tracking_url(case: Case) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    root = case.parent if case.parent is not None else case  # one tracking page per complainant's thread
    return f"{base}/suivi/{root.tracking_token}"


def render(template: str, case: Case, data: dict) -> tuple[str, str]:
    """Render a message template: its first line is the subject, the rest the body."""
    text = render_template(
        f"messages/{template}.txt", case=case, data=data, kind_label=KIND_WORDS.get(data.get("kind"), "dossier"),
        received=_fmt_date(data.get("received_at")), due=_fmt_date(data.get("due_at")),
        expected=_fmt_date(data.get("expected_answer_on")),
        tracking_url=tracking_url(case), survey_url=tracking_url(case) + "/enquete",
    )
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


def queue(case: Case, template: str, data: dict) -> OutboxMessage:
    """Add a message for the complainant to the outbox (committed with the step that sends it)."""
    subject, body = render(template, case, data)
    email = data.get("customer_email")
    message = OutboxMessage(
        case_id=case.id, template=template, channel="email" if email else "letter",
        recipient=email or data.get("customer_address") or data.get("customer_name"), subject=subject, body=body,
        status="pending", created_at=clock.now(), next_attempt_at=clock.now(),
    )
    db.session.add(message)
    return message
