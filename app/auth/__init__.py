"""Sign-in and sign-out for staff, and the role checks every page uses."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401
