"""Staff notifications: the list page, mark as read, and the unread counter shown in the top bar."""

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

from app.notifications import routes  # noqa: E402,F401
