"""Notification pages: thin views over app.services.messaging.notifications."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import clock
from app.access import staff_required
from app.labels import CLOCK_LABELS, CLOCK_STATE_LABELS
from app.notifications import bp
from app.services.core.errors import NotFound
from app.services.deadlines import clocks
from app.services.messaging import notifications


@bp.app_context_processor
def unread_counter():
    """`unread_notifications()` for the top bar (0 for anonymous visitors)."""
    def unread_notifications() -> int:
        return notifications.unread_count(current_user) if current_user.is_authenticated else 0
    return {"unread_notifications": unread_notifications}


@bp.app_context_processor
def clock_rows():
    """`case_clocks(case)` for the case page: each deadline clock with its French label and state."""
    def case_clocks(case) -> list[dict]:
        now = clock.now()
        return [{"label": CLOCK_LABELS.get(c.name, c.name), "row": c, "state": c.state(now),
                 "state_label": CLOCK_STATE_LABELS.get(c.state(now), c.state(now)),
                 "calendar": "jours ouvrés" if c.calendar == "working" else "jours calendaires"}
                for c in clocks.for_case(case.id)]
    return {"case_clocks": case_clocks}


@bp.get("/")
@staff_required
def index():
    unread_only = request.args.get("non_lues") == "1"
    rows = notifications.list_for(current_user, unread_only=unread_only)
    return render_template("notifications/index.html", rows=rows, unread_only=unread_only, now=clock.now())


@bp.post("/<int:notification_id>/lue")
@staff_required
def mark_read(notification_id: int):
    try:
        notifications.mark_read(current_user, notification_id)
    except NotFound:
        abort(404)
    return redirect(url_for("notifications.index"))


@bp.post("/toutes-lues")
@staff_required
def mark_all_read():
    changed = notifications.mark_read(current_user)
    flash(f"{changed} notification(s) marquée(s) comme lue(s).", "info")
    return redirect(url_for("notifications.index"))
