"""Staff case pages (url prefix /dossiers): search, case page, attachments, comments, diagram, new case."""

from flask import Blueprint

from app.services.cases.view import STATUS_LABELS

bp = Blueprint("cases", __name__, url_prefix="/dossiers")


@bp.app_template_filter("status_label")
def status_label(value) -> str:
    return STATUS_LABELS.get(value, value or "—")


from app.cases import routes  # noqa: E402,F401
