"""Error responses: JSON for the API, a French page elsewhere; 503 when the database is away; trace ids."""

import logging

from flask import jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.ops.logs import current_username, trace_id

log = logging.getLogger("reclamations.errors")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/health") or (
        request.accept_mimetypes.best == "application/json")


def _respond(status: int, message: str):
    if _wants_json():
        return jsonify(error=message, trace_id=trace_id()), status
    return render_template("ops/error.html", status=status, message=message, trace_id=trace_id()), status


def _unavailable(exc):
    """The database went away (connection killed, failover): nothing was committed, retry later."""
    from app.extensions import db

    db.session.rollback()
    log.error("database unavailable", exc_info=exc, extra={
        "trace_id": trace_id(), "method": request.method, "path": request.path, "user": current_username()})
    response = make_response(*_respond(503, "Service momentanément indisponible : réessayez dans un instant."))
    response.headers["Retry-After"] = "5"
    return response


def _internal(exc: InternalServerError):
    original = exc.original_exception or exc
    if isinstance(original, (OperationalError, DBAPIError)) and getattr(original, "connection_invalidated", False):
        return _unavailable(original)
    if isinstance(original, OperationalError):
        return _unavailable(original)
    log.error("unhandled error", exc_info=original, extra={
        "trace_id": trace_id(), "method": request.method, "path": request.path, "user": current_username()})
    return _respond(500, "Erreur interne. Communiquez cet identifiant au support : " + trace_id())


def _http(exc: HTTPException):
    if exc.code == 405:  # TRACE, PROPFIND, any method a route does not take: French, with the Allow header
        allow = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        body, status = _respond(405, "Méthode non autorisée pour cette adresse.")
        return body, status, allow
    if not request.path.startswith("/api/") or exc.code is None:
        return exc
    return jsonify(error=exc.description, trace_id=trace_id()), exc.code


def init_app(app) -> None:
    app.register_error_handler(InternalServerError, _internal)
    app.register_error_handler(HTTPException, _http)
