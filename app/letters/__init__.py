"""Letters to complainants: print the PDF, post, record the posting; the message template editor."""

from flask import Blueprint

bp = Blueprint("letters", __name__, url_prefix="/courriers")

from app.letters import routes, templates_routes  # noqa: E402,F401
