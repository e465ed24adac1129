"""Structured logs: one JSON line per request (method, path, status, duration, user, trace id) and per error."""

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import g, request

from app.web import USERNAME

ACCESS = logging.getLogger("reclamations.access")
_TRACE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message, the record's extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_handler: logging.Handler | None = None


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Send the app's loggers to stderr, as JSON lines or plain text (installed once per process)."""
    global _handler
    root = logging.getLogger("reclamations")
    if _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        root.addHandler(_handler)
        root.propagate = False
    _handler.setFormatter(JsonFormatter() if fmt == "json" else
                          logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.setLevel(level.upper())


def trace_id() -> str:
    """This request's trace id (from a sane X-Request-ID header, or a new one)."""
    # Kept in the WSGI environ, not g: g outlives a request when an app context is already pushed.
    if "reclamations.trace_id" not in request.environ:
        given = request.headers.get("X-Request-ID", "")
        request.environ["reclamations.trace_id"] = given if _TRACE_ID.match(given) else uuid.uuid4().hex
    return request.environ["reclamations.trace_id"]


def current_username() -> str | None:
    """The signed-in staff member (session) or API user (bearer token), if any."""
    if USERNAME in request.environ:  # noted when the user was loaded (app/web.py): no query after a commit
        return request.environ[USERNAME]
    user = g.get("user")
    if user is not None:
        return getattr(user, "username", None)
    try:
        from flask_login import current_user

        return current_user.username if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - logging must never break a response
        return None


def _start():
    request.environ["reclamations.started"] = time.perf_counter()
    trace_id()


def _finish(response):
    duration = (time.perf_counter() - request.environ.get("reclamations.started", time.perf_counter())) * 1000
    response.headers["X-Request-ID"] = trace_id()
    if request.path.startswith("/static/") or not ACCESS.isEnabledFor(logging.INFO):
        return response
    ACCESS.info("request", extra={
        "method": request.method, "path": request.path, "status": response.status_code,
        "duration_ms": round(duration, 2), "user": current_username(), "trace_id": trace_id(),
        "remote_addr": request.remote_addr})
    return response


def init_app(app) -> None:
    configure(app.config.get("LOG_FORMAT", "json"), app.config.get("LOG_LEVEL", "INFO"))
    app.before_request(_start)
    app.after_request(_finish)
