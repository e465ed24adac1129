"""Production plumbing: health and metrics endpoints, JSON request logs with trace ids, error pages, headers."""

from flask import Blueprint

bp = Blueprint("ops", __name__)


def init_app(app) -> None:
    """Attach logging, error handling, security headers and the health endpoint to the app."""
    from app.ops import errors, instrument, logs, security

    logs.init_app(app)
    instrument.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    app.register_blueprint(bp)


from app.ops import routes  # noqa: E402,F401
