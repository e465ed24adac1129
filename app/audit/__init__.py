"""Auditors' pages: case timeline and path, state at any moment, verification, search, export."""

from flask import Blueprint

from app.vocabulary import AUDIT_READERS

bp = Blueprint("audit", __name__, url_prefix="/audit")
READERS = AUDIT_READERS


from app.audit import routes  # noqa: E402,F401
