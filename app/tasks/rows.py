"""The task list's rows as the page shows them: every word, link and marker worked out once per row in Python.

The page is the staff's most viewed one; its template then only prints these fields (no filter, method or
proxy call per row), which halves its rendering time (README, "Throughput and cost as the work grows").
"""

from typing import NamedTuple

from app.labels import group_label
from app.ui import format_datetime

PRIORITY_LABELS = {3: "critique", 2: "haute", 1: "moyenne"}  # any other value: « normale »


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
    forecast: object  # the case's Forecast when it is at risk, else None
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
            forecast if forecast is not None and forecast.at_risk else None, action))
    return out
