"""The task list's rows as the page shows them: every word, link and marker worked out once per row in Python,
then each row printed by the tasks/_rows.html macro.

The page is the staff's most viewed one. Its template used to look up and escape ~15 values per row, 50 rows per
view, again on every view of the same rows: the printed row is a pure function of its ListRow (and whether the
viewer is read-only), so it is kept for the next view that shows the same row the same way (at most
FRAGMENTS_KEPT rows per process; any change of a word, a date, a marker or a button is another key). The key is
what the ListRow is made of (the task row's columns, its forecast dates, the channel's label, the urgency and the
button), worked out by comparisons and lookups alone: a kept row costs no date formatting either. The macro
prints every value through autoescape; the rows are joined as Markup, which escapes anything that is not.
README, "Throughput and cost as the work grows".
"""

from typing import NamedTuple

from markupsafe import Markup, escape

from app.fragments import KeptMacro
from app.labels import group_label
from app.ui import format_date, format_datetime

PRIORITY_LABELS = {3: "critique", 2: "haute", 1: "moyenne"}  # any other value: « normale »
FRAGMENTS_KEPT = 5000  # printed rows kept per process (a few MB), forgotten all at once past that
ROWS = KeptMacro("tasks/_rows.html", "task_row", FRAGMENTS_KEPT)  # a reloaded template forgets the printed rows


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


def _list_row(r, channel: str, urgency: str, forecast, action: str, prefix: str) -> ListRow:
    return ListRow(
        r.id, prefix + r.id, r.case_reference, r.name, r.customer_name or "—", channel,
        PRIORITY_LABELS.get(r.priority, "normale"), group_label(r.lane), r.assignee or "—", format_datetime(r.due_at),
        urgency, (format_date(forecast[0]), format_date(forecast[1])) if forecast is not None else None, action)


def _inputs(rows, forecasts: dict, viewer: Viewer, channel_names: dict, now, soon_ts: float):
    """Per row: (the row, its channel's label, urgency, (estimated closure, deadline) when at risk, action), what
    its ListRow is made of besides the prefix; cheap to work out (comparisons and lookups, no formatting)."""
    out = []
    for r in rows:
        due_at = r.due_at
        urgency = ""
        if due_at is not None:
            urgency = "overdue" if due_at < now else ("soon" if due_at.timestamp() < soon_ts else "")
        forecast = forecasts.get(r.case_id)
        risk = (forecast.estimated_at, forecast.due_at) if forecast is not None and forecast.at_risk else None
        action = ""
        if not viewer.read_only:
            if not r.assignee and (viewer.admin or r.lane in viewer.lanes):
                action = "claim"
            elif r.assignee == viewer.username:
                action = "release"
        out.append((r, channel_names.get(r.channel, r.channel or "—"), urgency, risk, action))
    return out


def rows_html(rows, forecasts: dict, viewer: Viewer, channel_names: dict, prefix: str, now,
              soon_ts: float) -> Markup:
    """The rows (as list_rows takes them) printed by the tasks/_rows.html macro, each printed once per distinct
    (row, what list_rows makes of it, read-only or not): a kept row costs neither its formatting nor its printing.
    """
    (macro, kept), read_only = ROWS.parts(), viewer.read_only
    out = []
    for item in _inputs(rows, forecasts, viewer, channel_names, now, soon_ts):
        key = (item, prefix, read_only)
        html = kept.get(key)
        if html is None:
            html = ROWS.keep(key, macro(*_list_row(*item, prefix), read_only))
        out.append(html)
    # The same as Markup("").join(out) (anything not already markup escaped) without copying each row again.
    return Markup("".join(h if isinstance(h, Markup) else escape(h) for h in out))
