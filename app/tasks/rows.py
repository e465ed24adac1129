"""The task list's rows as the page shows them: every word, link and marker worked out once per row in Python,
then each row printed by the tasks/_rows.html macro.

The page is the staff's most viewed one. Its template used to look up and escape ~15 values per row, 50 rows per
view, again on every view of the same rows: the printed row is a pure function of its ListRow (and whether the
viewer is read-only), so it is kept for the next view that shows the same row the same way (at most
FRAGMENTS_KEPT rows per process; any change of a word, a date, a marker or a button is another key). The macro
prints every value through autoescape; the rows are joined as Markup, which escapes anything that is not.
README, "Throughput and cost as the work grows".
"""

from typing import NamedTuple

from flask import current_app
from markupsafe import Markup

from app.labels import group_label
from app.ui import format_date, format_datetime

PRIORITY_LABELS = {3: "critique", 2: "haute", 1: "moyenne"}  # any other value: « normale »
FRAGMENTS_KEPT = 5000  # printed rows kept per process (a few MB), forgotten all at once past that
_FRAGMENTS: dict[tuple, Markup] = {}
_MACRO: list = [None, None]  # [template, its task_row macro]: a reloaded template forgets the printed rows


class Viewer(NamedTuple):
    """Who is looking at the list, as the rows' buttons ask it (read once per page)."""

    username: str
    admin: bool
    lanes: frozenset
    read_only: bool


class ListRow(NamedTuple):
    id: str
    url: str
    case_reference: str
    name: str
    customer: str
    channel: str
    priority: str
    lane: str
    assignee: str
    due: str
    urgency: str  # "overdue", "soon" or ""
    risk: tuple | None  # (estimated closure, deadline) as French dates when the case is at risk, else None
    action: str  # "claim", "release" or ""


def list_rows(rows, forecasts: dict, viewer: Viewer, channel_names: dict, prefix: str, now, soon_ts: float):
    """ListRow of each task row; prefix: the task list's URL (a task's page is prefix + id)."""
    out = []
    for r in rows:
        due_at = r.due_at
        urgency = ""
        if due_at is not None:
            urgency = "overdue" if due_at < now else ("soon" if due_at.timestamp() < soon_ts else "")
        forecast = forecasts.get(r.case_id)
        action = ""
        if not viewer.read_only:
            if not r.assignee and (viewer.admin or r.lane in viewer.lanes):
                action = "claim"
            elif r.assignee == viewer.username:
                action = "release"
        out.append(ListRow(
            r.id, prefix + r.id, r.case_reference, r.name, r.customer_name or "—",
            channel_names.get(r.channel, r.channel or "—"), PRIORITY_LABELS.get(r.priority, "normale"),
            group_label(r.lane), r.assignee or "—", format_datetime(due_at), urgency,
            (format_date(forecast.estimated_at), format_date(forecast.due_at))
            if forecast is not None and forecast.at_risk else None, action))
    return out


def _row_macro():
    template = current_app.jinja_env.get_template("tasks/_rows.html")
    if template is not _MACRO[0]:
        _FRAGMENTS.clear()
        _MACRO[:] = [template, template.module.task_row]
    return _MACRO[1]


def rows_html(rows: list[ListRow], read_only: bool) -> Markup:
    """The rows printed by the tasks/_rows.html macro, each printed once per distinct (row, read_only)."""
    macro, kept = _row_macro(), _FRAGMENTS
    out = []
    for row in rows:
        key = (row, read_only)
        html = kept.get(key)
        if html is None:
            html = macro(*row, read_only)
            if len(kept) >= FRAGMENTS_KEPT:
                kept.clear()
            kept[key] = html
        out.append(html)
    return Markup("").join(out)
