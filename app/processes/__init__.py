"""Process owners' pages: list, diagrams, modeler, drafts, compare, deploy, migrate, version history."""

from flask import Blueprint, current_app, jsonify, render_template, request

from app.services.core.errors import ServiceError

bp = Blueprint("processes", __name__, url_prefix="/processus")


@bp.app_errorhandler(413)
def too_large(_exc):
    """A request body over MAX_CONTENT_LENGTH (e.g. a 20 MB upload): French, JSON for the API and scripts."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    message = f"Fichier ou envoi trop volumineux : {limit // (1024 * 1024)} Mo au plus."
    wants_json = (request.blueprint == "api" or request.path.startswith("/api/") or request.is_json
                  or request.accept_mimetypes.best == "application/json" or request.mimetype.endswith("xml"))
    if wants_json:
        return jsonify(error=message), 413
    return render_template("errors/service.html", error=ServiceError(message)), 413


from app.processes import routes  # noqa: E402,F401
