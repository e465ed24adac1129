"""Role checks for pages: every staff route declares which groups may use it."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

STAFF_GROUPS = ("accueil", "gestionnaire", "service", "qualite", "responsable", "finance", "commercial",
                "direction", "auditeur", "proprietaire", "admin")
READ_ONLY_GROUPS = ("auditeur",)


def groups_required(*groups: str, write: bool = False):
    """Allow signed-in members of one of the groups (admin always); `write` also refuses read-only auditors."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if groups and not current_user.in_any(*groups):
                abort(403)
            if write and is_read_only(current_user):
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_groups = groups
        wrapped.writes = write
        return wrapped
    return decorator


def is_read_only(user) -> bool:
    """Auditors read everything and change nothing (unless also admin)."""
    return not user.is_admin and any(g in READ_ONLY_GROUPS for g in user.groups) and not any(
        g not in READ_ONLY_GROUPS for g in user.groups)


def staff_required(view):
    """Any signed-in staff member."""
    return groups_required(*STAFF_GROUPS)(view)
