"""Letters to complainants without an e-mail address: print, post, and record the posting."""

from flask import Blueprint

bp = Blueprint("letters", __name__, url_prefix="/courriers")

from app.letters import routes  # noqa: E402,F401
