"""Staff task list and task pages (url prefix /taches; tasks.index is the staff home)."""

from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from app.services.core.errors import ServiceError

PARIS = ZoneInfo("Europe/Paris")
bp = Blueprint("tasks", __name__, url_prefix="/taches")


@bp.app_errorhandler(ServiceError)
def service_error(exc: ServiceError):
    """Service errors on pages: a French page with the matching status (the API has its own handler)."""
    return render_template("errors/service.html", error=exc), exc.status


@bp.app_template_filter("dt")
def format_datetime(value, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC datetime shown in Paris time."""
    if value is None:
        return "—"
    return value.astimezone(PARIS).strftime(fmt)


@bp.app_template_filter("d")
def format_date(value) -> str:
    return format_datetime(value, "%d/%m/%Y")


@bp.app_errorhandler(403)
def forbidden(_exc):
    if request.blueprint == "api":
        return jsonify(error="Accès refusé."), 403
    return render_template("errors/service.html", error=ServiceError("Vous n'avez pas accès à cette page "
                                                                     "ou à cette action.")), 403


@bp.app_errorhandler(CSRFError)
def csrf_error(_exc):
    return render_template("errors/service.html", error=ServiceError(
        "Le formulaire a expiré ou n'est pas valide (jeton de sécurité). Rechargez la page et recommencez.")), 400


from app.tasks import routes  # noqa: E402,F401
