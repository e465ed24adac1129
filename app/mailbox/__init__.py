"""Staff pages of the mailbox: the journal of incoming e-mail and its quarantine (open, release, discard)."""

from flask import Blueprint

bp = Blueprint("mailbox", __name__, url_prefix="/courriels")

from app.mailbox import routes  # noqa: E402,F401
