"""Staff task list and task pages (url prefix /taches; tasks.index is the staff home)."""

from flask import Blueprint

bp = Blueprint("tasks", __name__, url_prefix="/taches")


from app.tasks import routes  # noqa: E402,F401
