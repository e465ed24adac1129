"""What every page shares, installed in one place: template filters and globals, page error handlers.

Blueprints keep their own routes; the words come from app/labels.py, the time zone from app/vocabulary.py.
"""

from datetime import datetime

from flask import has_request_context, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from app import formatting
from app.formatting import format_datetime_paris, sort_key
from app.labels import EVENT_LABELS, STATUS_LABELS, actor_label, event_label, group_label
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
    """An aware datetime (or ISO string) as Paris time, dd/mm/yyyy hh:mm:ss (a date alone as dd/mm/yyyy)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        return value.strftime("%d/%m/%Y")
    return format_datetime_paris(value, seconds=True)


def status_label(value) -> str:
    """The French label of a case status."""
    return STATUS_LABELS.get(value, value or "—")


def audit_verification(case_id: int):
    """The case's last stored verification (None if never checked), for audit/_verified_badge.html."""
    from app.services.audit.verification import last_verification

    return last_verification(case_id)


def audit_event_count(case_id: int) -> int:
    """How many events a case's chain holds (the badge says how many its last verification did not cover)."""
    from app.services.core.audit import count_for

    return count_for(case_id)


def audit_event_types() -> list[tuple[str, str]]:
    """Every event type with its French label, in label order (the audit search's choice list)."""
    return sorted(EVENT_LABELS.items(), key=lambda item: sort_key(item[1]))


def now_paris() -> str:
    """Now, in Paris time (the « édité le » of printed pages)."""
    from app import clock

    return format_datetime_paris(clock.now())


def service_error(exc: ServiceError):
    """Service errors on pages: a French page with the matching status (the API has its own handler)."""
    return render_template("errors/service.html", error=exc), exc.status


def forbidden(_exc):
    if request.blueprint == "api":
        return jsonify(error="Accès refusé."), 403
    return render_template("errors/service.html", error=ServiceError("Vous n'avez pas accès à cette page "
                                                                     "ou à cette action.")), 403


def csrf_error(exc):
    """A refused CSRF token: the page the form was on, filled in again (app/form_recovery.py)."""
    from app import form_recovery

    return form_recovery.csrf_error(exc)


DEFAULT_PRIVACY_NOTICE = (
    "Les informations de ce formulaire sont traitées par notre service réclamations pour instruire votre demande, "
    "vous répondre et améliorer nos services (intérêt légitime ; obligation légale pour les litiges de paiement). "
    "Seuls les services qui traitent votre dossier y ont accès ; chaque consultation est enregistrée."
    "\n\n"
    "Elles sont conservées cinq ans après la clôture du dossier (dix ans pour un litige de paiement, règle "
    "comptable), puis anonymisées. Nous ne demandons que ce qui sert à traiter votre demande."
    "\n\n"
    "Vous pouvez demander à consulter, corriger ou effacer vos données, ou vous opposer à leur traitement, en "
    "écrivant à notre délégué à la protection des données ; vous pouvez aussi saisir la CNIL (www.cnil.fr).")


def privacy_notice() -> str:
    """Who processes the data, why, for how long, and how to exercise one's rights (PRIVACY_NOTICE)."""
    from flask import current_app

    return current_app.config.get("PRIVACY_NOTICE") or DEFAULT_PRIVACY_NOTICE


URLS_KEPT = 2000  # template URLs kept per app (endpoints without arguments, static files)


def kept_url_for(app):
    """The templates' url_for: a URL without arguments but a static file's name (the menu, the top bar, the
    style sheet) is built once per (URL prefix, endpoint, file) and kept per app, the rest built as Flask does.
    The app builds no URL from the request's host (no SERVER_NAME, subdomain or host matching): a path is the
    same for every request under the same prefix (SCRIPT_NAME)."""
    build = app.url_for
    kept: dict = {}

    def url_for(endpoint: str, **values) -> str:
        if (values and (len(values) > 1 or "filename" not in values)) or endpoint[:1] == "." \
                or not has_request_context():
            return build(endpoint, **values)
        key = (request.environ.get("SCRIPT_NAME", ""), endpoint, values.get("filename"))
        url = kept.get(key)
        if url is None:
            url = build(endpoint, **values)
            if len(kept) >= URLS_KEPT:
                kept.clear()
            kept[key] = url
        return url

    return url_for


def install(app) -> None:
    """Register the shared filters, globals and page error handlers on the app."""
    if not (app.config.get("SERVER_NAME") or app.url_map.host_matching or app.subdomain_matching):
        app.jinja_env.globals["url_for"] = kept_url_for(app)
    for name, fn in (("dt", format_datetime), ("d", format_date), ("public_date", public_date),
                     ("audit_datetime", audit_datetime), ("status_label", status_label), ("amount", amount),
                     ("number", number), ("group_label", group_label), ("actor_label", actor_label)):
        app.add_template_filter(fn, name)
    app.add_template_global(event_label, "audit_event_label")
    app.add_template_global(audit_verification, "audit_verification")
    app.add_template_global(privacy_notice, "privacy_notice")
    from app import formatting
    from app.services.messaging.rendering import as_markup

    formatting.install(app.jinja_env)  # the French filters (money, long_date, place_date...)
    app.add_template_filter(as_markup, "safe_reply")  # a reply's HTML part, sanitised again by nh3 for the page
    app.add_template_global(audit_event_count, "audit_event_count")
    app.add_template_global(audit_event_types, "audit_event_types")
    app.add_template_global(now_paris, "now_paris")
    app.register_error_handler(ServiceError, service_error)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(CSRFError, csrf_error)
