"""The CAPA register pages: corrective and preventive actions and the complaints they address."""

from flask import Blueprint

bp = Blueprint("actions", __name__, url_prefix="/actions")

from app.actions import routes  # noqa: E402,F401
