"""What every page shares, installed in one place: template filters and globals, page error handlers.

Blueprints keep their own routes; the words come from app/labels.py, the time zone from app/vocabulary.py.
"""

from datetime import datetime

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from app import formatting
from app.labels import STATUS_LABELS, actor_label, event_label, group_label
from app.services.core.errors import ServiceError
from app.vocabulary import PARIS


def format_datetime(value, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC datetime (or ISO text) shown in Paris time (« — » when missing)."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value.astimezone(PARIS).strftime(fmt)


def amount(value) -> str:
    """An amount in euros, French style: 1 250,40 € (« — » when missing)."""
    return formatting.format_amount(value) or "—"


def number(value, decimals: int | None = None) -> str:
    """A number with French thousands: 10 000."""
    return formatting.format_number(value, decimals)


def format_date(value) -> str:
    """A UTC datetime as its Paris date."""
    return format_datetime(value, "%d/%m/%Y")


def public_date(value) -> str:
    """A UTC datetime as a French date, Paris time (31/12/2026); empty when missing."""
    return value.astimezone(PARIS).strftime("%d/%m/%Y") if value else ""


def audit_datetime(value) -> str:
    """An aware datetime (or ISO string) as Paris time, dd/mm/yyyy hh:mm:ss."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        return value.strftime("%d/%m/%Y")
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S")


def status_label(value) -> str:
    """The French label of a case status."""
    return STATUS_LABELS.get(value, value or "—")


def audit_verification(case_id: int):
    """The case's last stored verification (None if never checked), for audit/_verified_badge.html."""
    from app.services.audit.verification import last_verification

    return last_verification(case_id)


def service_error(exc: ServiceError):
    """Service errors on pages: a French page with the matching status (the API has its own handler)."""
    return render_template("errors/service.html", error=exc), exc.status


def forbidden(_exc):
    if request.blueprint == "api":
        return jsonify(error="Accès refusé."), 403
    return render_template("errors/service.html", error=ServiceError("Vous n'avez pas accès à cette page "
                                                                     "ou à cette action.")), 403


def csrf_error(_exc):
    return render_template("errors/service.html", error=ServiceError(
        "Le formulaire a expiré ou n'est pas valide (jeton de sécurité). Rechargez la page et recommencez.")), 400


def install(app) -> None:
    """Register the shared filters, globals and page error handlers on the app."""
    for name, fn in (("dt", format_datetime), ("d", format_date), ("public_date", public_date),
                     ("audit_datetime", audit_datetime), ("status_label", status_label), ("amount", amount),
                     ("number", number), ("group_label", group_label), ("actor_label", actor_label)):
        app.add_template_filter(fn, name)
    app.add_template_global(event_label, "audit_event_label")
    app.add_template_global(audit_verification, "audit_verification")
    app.register_error_handler(ServiceError, service_error)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(CSRFError, csrf_error)
