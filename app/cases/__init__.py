"""Staff case pages (url prefix /dossiers): search, case page, attachments, comments, diagram, new case,
the reply composer."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/dossiers")


from app.cases import replies_routes, routes  # noqa: E402,F401
