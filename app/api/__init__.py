"""The JSON API (bearer tokens), documented by openapi.json."""

from functools import wraps

from flask import Blueprint, g, jsonify, request

from app.services.core.errors import ServiceError

bp = Blueprint("api", __name__, url_prefix="/api")


def token_required(view):
    """Authenticate the request by its bearer token; 401 without a valid one."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        from app.services.people.users import user_from_token

        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = user_from_token(token.strip()) if scheme.lower() == "bearer" and token else None
        if user is None:
            return jsonify(error="Authentification requise."), 401, {"WWW-Authenticate": "Bearer"}
        g.user = user
        from app.web import remember_user

        remember_user(user.username)
        from app.access import refuses_write

        if refuses_write(user):  # auditors read everything and change nothing, on every API route
            return jsonify(error="Les auditeurs ne modifient rien."), 403
        return view(*args, **kwargs)
    return wrapped


def json_body() -> dict:
    """The request's JSON object, or a 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Corps JSON (objet) attendu.")
    return body


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    payload = {"error": exc.message, **exc.extra}
    return jsonify(payload), exc.status


@bp.errorhandler(404)
def not_found(_exc):
    return jsonify(error="Ressource inconnue."), 404


@bp.errorhandler(405)
def method_not_allowed(exc):
    allow = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    return jsonify(error="Méthode non autorisée."), 405, allow


@bp.errorhandler(413)
def too_large(_exc):
    return jsonify(error="Requête trop volumineuse."), 413


from app.api.query_rules import check_query  # noqa: E402

bp.before_request(check_query)  # query parameters as app/api/openapi.json declares them, or 422

from app.api import audit_routes, process_routes, routes  # noqa: E402,F401
