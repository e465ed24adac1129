"""Incidents: cases stopped by a failing script, condition or service task; retry after a fix.

The retry POST is checked for its CSRF token by CSRFProtect, like every form.
"""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from app.access import groups_required
from app.admin import bp
from app.services.cases import incidents as incident_service
from app.services.cases import lifecycle as cases
from app.services.core.errors import ServiceError


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
