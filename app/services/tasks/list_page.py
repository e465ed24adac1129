"""The task list page in one statement: a page of task rows with what the page shows beside them.

A view used to cost five statements (the rows with the tab counts, the forecast rows of their cases, the active
versions for the filter choices, the unread notifications of the top bar, the user), each a round trip on
PostgreSQL. The page's walk of a tab's index (`task_list`, LIMIT/OFFSET) is a subquery here; the outer query
joins the rows' open cases and each case's ready tasks (what `forecast.forecast_for_cases` reads), and adds
uncorrelated scalar subqueries, evaluated once per statement by both databases: the tab counts, the medians'
cache key (the last closure), the unread count and the key of the active versions. Rows come back as Core
tuples (PageRow), not ORM objects: the page only reads them.
"""

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from app import clock
from app.models import Case, TaskRow, User
from app.services.core import definitions
from app.services.messaging import notifications
from app.services.tasks import forecast


class PageRow(NamedTuple):
    """A ready task row as the list shows it and its buttons check it (TaskRow's names, read-only)."""

    id: str
    case_id: int
    case_reference: str
    process_key: str
    bpmn_id: str
    name: str
    lane: str | None
    state: str
    assignee: str | None
    due_at: datetime | None
    priority: int
    customer_name: str | None
    channel: str | None


# The inner walk's columns: PageRow's, then the sort keys the outer query orders by again (not read back).
COLUMNS = [getattr(TaskRow, name) for name in PageRow._fields] + [TaskRow.due_key, TaskRow.created_at]
_WIDTH = len(PageRow._fields)
_OTHER = aliased(TaskRow, name="case_task")  # the ready tasks of a row's case (forecast input)
_CASE_COLUMNS = (Case.reference, Case.process_key, Case.kind, Case.category, Case.due_at, Case.status,
                 Case.closed_at, _OTHER.id, _OTHER.bpmn_id, _OTHER.created_at)


class Extras(NamedTuple):
    """What the page shows beside its rows, read in the same statement."""

    last_closed: object  # the medians' cache key (forecast)
    unread_notifications: int
    versions_key: str  # definitions.versions_key() (the filter choices' cache key)


def extra_columns(user: User) -> tuple[list, dict]:
    """The scalar subqueries of Extras, in its order, and their parameters for this user."""
    params = notifications.unread_count_params(user)
    return ([forecast.last_closed_column(), notifications.unread_count_column("groups" in params),
             definitions.active_versions_column()], params)


def statement(inner, order, tail: list):
    """The outer query over one page's walk (`inner`: a select of COLUMNS with its order and limits): the rows,
    their open cases' ready tasks, then the `tail` columns (scalar subqueries, the same on every row).

    order(t): the list's order on columns named like the task table's (the subquery's here).
    """
    p = inner.subquery("page")
    # Joined by the case's key alone (closed cases are left out in read()) and the task rows by case_id, their
    # state checked as `state || '' = 'ready'`: conditions that match no partial index's predicate, so that
    # even without statistics (a fresh database) PostgreSQL probes the primary key and ix_task_case_state
    # for each of the page's rows, where it walked ix_case_open_due and ix_task_ready_step whole per row.
    joined = (p.outerjoin(Case, Case.id == p.c.case_id)
              .outerjoin(_OTHER, and_(_OTHER.case_id == Case.id, _OTHER.state + "" == "ready")))
    return (select(*[p.c[name] for name in PageRow._fields], *_CASE_COLUMNS, *tail).select_from(joined)
            .order_by(*order(p.c), _OTHER.id))


def read(result, per_page: int) -> tuple[list[PageRow], dict, tuple | None]:
    """(rows, forecasts of the first per_page rows' cases, the tail columns of the first result row or None when
    there is no row)."""
    rows: list[PageRow] = []
    inputs: dict[tuple, tuple] = {}  # (case id, ready task id) -> a row of forecast.estimate
    tail = None
    last_id = None
    for r in result:
        if r[0] != last_id:
            last_id = r[0]
            rows.append(PageRow._make(r[:_WIDTH]))
            if tail is None:
                tail = tuple(r[_WIDTH + len(_CASE_COLUMNS):])
        reference, process, kind, category, due_at, status, closed_at, task_id, bpmn_id, created_at = \
            r[_WIDTH:_WIDTH + len(_CASE_COLUMNS)]
        if reference is not None and closed_at is None and task_id is not None and len(rows) <= per_page:
            inputs.setdefault((r[1], task_id), (r[1], reference, process, kind, category, due_at, status, bpmn_id,
                                                created_at))
    forecasts = forecast.estimate(list(inputs.values()), clock.now(), extras(tail).last_closed) if inputs else {}
    return rows, forecasts, tail


def extras(tail: tuple) -> Extras:
    """Extras from a tail: its last three values (extra_columns() come last)."""
    last_closed, unread, versions = tail[-3:]
    return Extras(last_closed, unread or 0, definitions.versions_key(versions))
