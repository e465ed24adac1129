"""Incidents: cases stopped by a failing script, condition or service task; retry after a fix. People: the
accounts with their groups and last sign-in, deactivate (their tasks go back to their group) or reactivate.

The retry POST is checked for its CSRF token by CSRFProtect, like every form.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required
from app.admin import bp
from app.services.cases import incidents as incident_service
from app.services.cases import lifecycle as cases
from app.services.core.errors import ServiceError
from app.services.staff import accounts


@bp.get("/incidents")
@groups_required("admin")
def incidents():
    return render_template("admin/incidents.html", incidents=incident_service.list_incidents(current_user))


@bp.post("/incidents/<reference>/retry")
@groups_required("admin", write=True)
def retry(reference):
    try:
        case = cases.retry_incident(current_user, reference)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.incidents"), 303)
    if case.incident:
        flash(f"{case.reference} : l'étape échoue encore — {case.incident}", "error")
    else:
        flash(f"{case.reference} : l'incident est résolu, le dossier a repris.", "info")
    return redirect(url_for("admin.incidents"), 303)


@bp.get("/personnes")
@groups_required("admin")
def people():
    return render_template("admin/people.html", people=accounts.people(current_user))


@bp.post("/personnes/<username>/desactiver")
@groups_required("admin", write=True)
def deactivate(username):
    try:
        moved = accounts.deactivate(current_user, username)
    except ServiceError as exc:
        flash(_message(exc), "error")
    else:
        flash(f"Compte {username} désactivé ; {len(moved)} tâche(s) rendue(s) à leur groupe.", "info")
    return redirect(url_for("admin.people"), 303)


@bp.post("/personnes/<username>/reactiver")
@groups_required("admin", write=True)
def reactivate(username):
    try:
        accounts.reactivate(current_user, username)
    except ServiceError as exc:
        flash(_message(exc), "error")
    else:
        flash(f"Compte {username} réactivé.", "info")
    return redirect(url_for("admin.people"), 303)


def _message(exc: ServiceError) -> str:
    errors = getattr(exc, "errors", None)
    return "; ".join(errors.values()) if errors else exc.message


@bp.get("/incidents/<reference>")
@groups_required("admin")
def incident(reference):
    """One case in incident: where it is stuck on the diagram, the error, retry and move the token."""
    case = cases.get_case(reference)
    holders, targets = cases.token_choices(current_user, reference)
    return render_template("admin/incident.html", case=case, holders=holders, targets=targets)


@bp.post("/incidents/<reference>/deplacer")
@groups_required("admin", write=True)
def move(reference):
    try:
        case = cases.move_token(current_user, reference, request.form.get("from", ""), request.form.get("to", ""),
                                request.form.get("reason", ""))
    except ServiceError as exc:
        errors = getattr(exc, "errors", None) or {}
        flash(" ".join(errors.values()) if errors else exc.message, "error")
        return redirect(url_for("admin.incident", reference=reference), 303)
    if case.incident:
        flash(f"{case.reference} : jeton déplacé, mais le dossier s'arrête de nouveau — {case.incident}", "error")
        return redirect(url_for("admin.incident", reference=reference), 303)
    flash(f"{case.reference} : jeton déplacé, le dossier a repris.", "info")
    return redirect(url_for("admin.incidents"), 303)
