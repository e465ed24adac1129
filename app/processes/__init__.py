"""Process owners' pages: list, diagrams, modeler, drafts, compare, deploy, migrate, version history."""

from flask import Blueprint

bp = Blueprint("processes", __name__, url_prefix="/processus")

from app.processes import routes  # noqa: E402,F401
