"""The data protection officer's pages (url prefix /confidentialite), and the access log's request hook."""

from flask import Blueprint, request
from flask_login import current_user

bp = Blueprint("privacy", __name__, url_prefix="/confidentialite")

# What a staff user displays, by endpoint: (action, the view argument naming the case or object).
LOGGED = {
    "cases.show": ("case", "reference"), "cases.download": ("attachment", "reference"),
    "cases.complainant_download": ("attachment", "reference"), "cases.diagram": ("case", "reference"),
    "tasks.task": ("task", "task_id"), "audit.case": ("case", "reference"), "audit.state": ("case", "reference"),
    "audit.print_trail": ("export", "reference"), "audit.export_csv": ("export", "reference"),
    "audit.export_json": ("export", "reference"), "reports.cases_csv": ("export", None),
    "letters.show": ("letter", "outbox_id"), "api.get_case": ("case", "reference"),
    "api.case_history": ("case", "reference"), "privacy.archive": ("subject_access", None),
}


@bp.after_app_request
def log_access(response):
    """Record each successful display of personal data by a signed-in user (after the view, so never twice)."""
    entry = LOGGED.get(request.endpoint or "")
    if entry is None or response.status_code != 200 or not current_user.is_authenticated:
        return response
    from app.services.privacy import access_log

    action, arg = entry
    value = str((request.view_args or {}).get(arg, "")) if arg else ""
    reference = value if arg == "reference" else None
    if arg == "task_id":
        from app.services.tasks.actions import case_reference_of

        reference = case_reference_of(value)
    access_log.record(current_user.username, action, request.path, reference)
    return response


from app.privacy import routes  # noqa: E402,F401
