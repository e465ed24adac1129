"""Staff case pages (url prefix /dossiers): search, case page, attachments, comments, diagram, new case,
the reply composer."""

from flask import Blueprint

from app.services.cases.view import STATUS_LABELS
from app.services.messaging.rendering import as_markup

bp = Blueprint("cases", __name__, url_prefix="/dossiers")


@bp.app_template_filter("status_label")
def status_label(value) -> str:
    return STATUS_LABELS.get(value, value or "—")


@bp.app_template_filter("safe_reply")
def safe_reply(fragment) -> str:
    """A reply's HTML part, sanitised again by nh3 before it reaches the page."""
    return as_markup(fragment)


from app.cases import replies_routes, routes  # noqa: E402,F401
