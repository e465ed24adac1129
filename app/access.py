"""Role checks for pages: every staff route declares which groups may use it."""

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required

from app.vocabulary import READ_ONLY_GROUPS, STAFF_GROUPS, is_read_only  # noqa: F401 - used by the blueprints

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The only write routes a read-only user may call: signing in and out changes no case. Add an endpoint
# here only if it changes nothing but the caller's own session (tests/test_audit_access.py reads this).
# Auditors change nothing, but may store the result of a verification they run (no case data changes).
READ_ONLY_ALLOWED = frozenset({"auth.login", "auth.logout", "api.login", "audit.run_verify"})


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


def staff_required(view):
    """Any signed-in staff member."""
    return groups_required(*STAFF_GROUPS)(view)


def refuses_write(user) -> bool:
    """Tell whether this request is a write a read-only user (auditor) may not make, whatever the route."""
    return (request.method in WRITE_METHODS and request.endpoint not in READ_ONLY_ALLOWED
            and user is not None and user.is_authenticated and is_read_only(user))


def refuse_read_only_writes():
    """Before every page request: auditors get 403 on any write, so no route can forget the check."""
    if request.blueprint != "api" and refuses_write(current_user):  # the API checks its bearer token's user
        abort(403)
