"""Sign-in and sign-out for staff, and the role checks every page uses."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.access import refuse_read_only_writes  # noqa: E402
from app.auth import routes  # noqa: E402,F401

bp.before_app_request(refuse_read_only_writes)
