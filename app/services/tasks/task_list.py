"""The task list: tabs, filters, sorts, bounded tab counts and the breach-forecast markers of one page.

Every query reads the task table only (plus the case table for the "at risk" filter) and is shaped for the indexes
of app/models/task.py: each tab and sort walks one index in the list's order and stops after the page, and tab
counts stop at COUNT_CAP. Why, and the figures: README, "Task list benchmark".
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from math import ceil

from sqlalchemy import Integer, and_, bindparam, case, func, literal_column, or_, select, true

from app import clock
from app.extensions import db
from app.models import TaskRow, User
from app.models.task import search_key
from app.services.core.errors import Forbidden, Invalid
from app.services.core.search import like_escape
from app.services.core.sql_stats import dialect
from app.services.tasks import forecast, list_page
from app.vocabulary import MANAGER_GROUPS  # noqa: F401 - re-read by tasks.actions

# 'ready' written in the SQL, not bound: the partial indexes of ready rows (app/models/task.py) then match
# whatever plan the database keeps for the statement (a generic plan of a prepared one knows no parameter).
READY = literal_column("'ready'")
ONE = literal_column("1")  # what a count's walk selects: nothing an index lacks
SCOPES = ("mine", "group", "all")
SORTS = ("due", "created", "priority")
COUNT_CAP = 1000  # tab counts stop here: "1 000+" (counting 100,000 rows on every page costs more than the page)
# A search shaped like a case reference (REC-2026-0042) looks up references only, through their index.
REFERENCE_SHAPE = re.compile(r"^[A-Za-z]{3}-[0-9-]*$")


@dataclass
class TaskFilters:
    """What the task list can be narrowed and ordered by; every field is optional."""

    process: str | None = None
    step: str | None = None  # bpmn_id
    channel: str | None = None
    overdue: bool = False
    due_within: int | None = None  # days from now
    q: str | None = None  # case reference prefix (REC-2026-00…) or part of the customer name
    at_risk: bool = False  # breach forecast: the case will likely miss its deadline (app/services/tasks/forecast.py)
    sort: str = "due"


def available_scopes(user: User) -> list[str]:
    """The tabs a user may open: everyone has mine and group; managers, auditors and admins also all."""
    return ["mine", "group"] + (["all"] if user.in_any(*MANAGER_GROUPS, "auditeur") else [])


def _scope_condition(user: User, scope: str, t=TaskRow):
    """Which ready rows a tab holds (t: TaskRow or an alias of it)."""
    if scope == "mine":
        return t.assignee == user.username
    if scope == "group":
        return t.assignee.is_(None) if user.is_admin else and_(t.assignee.is_(None), t.lane.in_(user.groups))
    return true()


def _check_scope(user: User, scope: str) -> None:
    """Refuse an unknown tab, or the "all" tab to whom may not open it."""
    if scope not in SCOPES:
        raise Invalid({"scope": "Valeur attendue : mine, group ou all."})
    if scope == "all" and "all" not in available_scopes(user):
        raise Forbidden("La vue « toutes les tâches » est réservée aux responsables.")


def visible_query(user: User, scope: str = "group"):
    """The select of ready task rows a user sees in a scope (mine, group = unassigned in my lanes, all)."""
    _check_scope(user, scope)
    return select(TaskRow).where(TaskRow.state == READY, _scope_condition(user, scope))


def _prefix(column, prefix: str):
    """column starts with prefix, as an index range where the database would not make one of LIKE.

    SQLite's LIKE ignores ASCII case, so it never uses a plain index: a range (binary order) does. PostgreSQL makes
    the range itself under the C collation; under another one LIKE stays right but scans.
    """
    if dialect() == "sqlite" and ord(prefix[-1]) < 0x10FFFF:
        return and_(column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return column.like(like_escape(prefix) + "%", escape="\\")


def _text_condition(text: str):
    """A reference prefix (text shaped like one) or a part of the customer name, case and accents ignored.

    The name part cannot use a B-tree (leading wildcard): it is a scan of customer_key with a plain LIKE, which
    stops after the page's rows when the name is common and reads the tab once when it is rare (task_page).
    """
    key = search_key(text)
    if REFERENCE_SHAPE.match(text) or not key:
        return _prefix(TaskRow.case_reference, text.upper())
    return TaskRow.customer_key.like("%" + like_escape(key) + "%", escape="\\")


def _filter_conditions(filters: TaskFilters | None) -> list:
    f = filters or TaskFilters()
    now = clock.now()
    conditions = []
    if f.process:
        conditions.append(TaskRow.process_key == f.process)
    if f.step:
        conditions.append(TaskRow.bpmn_id == f.step)
    if f.channel:
        conditions.append(TaskRow.channel == f.channel)
    # due_key, not due_at: the same rows (undated tasks sort after every date) but an index range.
    if f.overdue:
        conditions.append(TaskRow.due_key < now)
    if f.due_within is not None:
        conditions += [TaskRow.due_key >= now, TaskRow.due_key < now + timedelta(days=f.due_within)]
    text = (f.q or "").strip()[:100]
    if text:
        conditions.append(_text_condition(text))
    if f.at_risk:
        conditions.append(forecast.task_at_risk(now))
    return conditions


def _order(sort: str, t=TaskRow) -> list:
    """The list's order for a sort, on the task table's columns or a subquery's of the same names."""
    if sort not in SORTS:
        raise Invalid({"sort": "Tri attendu : due, created ou priority."})
    if sort == "created":
        return [t.created_at.desc(), t.id]
    if sort == "priority":
        return [t.priority.desc(), t.due_key, t.id]
    return [t.due_key, t.created_at, t.id]  # overdue first, undated last


def _ordered(query, sort: str):
    return query.order_by(*_order(sort))


def _rows(user: User, scope: str, conditions: list, sort: str, limit: int, offset: int) -> list[TaskRow]:
    query = _ordered(visible_query(user, scope).where(*conditions), sort)
    return list(db.session.scalars(query.limit(limit).offset(offset)))


def list_tasks(user: User, scope: str = "group", limit: int = 200, offset: int = 0,
               filters: TaskFilters | None = None) -> list[TaskRow]:
    """One page of the tasks a user sees in a scope, filtered and sorted (default: due date first)."""
    return _rows(user, scope, _filter_conditions(filters), (filters or TaskFilters()).sort, limit, offset)


def _count(user: User, scope: str, conditions: list, cap: int | None) -> int:
    query = visible_query(user, scope).where(*conditions).with_only_columns(ONE, maintain_column_froms=True)
    if cap is not None:
        query = query.limit(cap + 1)
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def count_tasks(user: User, scope: str, filters: TaskFilters | None = None, cap: int | None = None) -> int:
    """How many tasks a scope holds under the filters; with a cap, stop counting at cap + 1."""
    return _count(user, scope, _filter_conditions(filters), cap)


def _ready(scopes: list[str]):
    """state = 'ready', written so that SQLite scans the table when nothing else narrows the rows.

    Given `state = ?` alone (the "all" tab), SQLite walks an index on state and reads the matching rows one by
    one, about ten times slower than a plain scan when a filter keeps few of 100,000 rows. PostgreSQL picks the
    scan itself.
    """
    if "all" in scopes and dialect() == "sqlite":
        return TaskRow.state + "" == "ready"
    return TaskRow.state == READY


@dataclass
class _Sample:
    """Up to cap + 1 rows visible in any tab: their ids and, per tab, whether the tab holds them."""

    scopes: list[str]
    rows: list[tuple]

    def complete(self, cap: int) -> bool:
        return len(self.rows) <= cap

    def count(self, scope: str) -> int:
        i = self.scopes.index(scope) + 1
        return sum(1 for r in self.rows if r[i])

    def ids(self, scope: str) -> list[str]:
        i = self.scopes.index(scope) + 1
        return [r[0] for r in self.rows if r[i]]


def _sample(user: User, conditions: list, cap: int) -> _Sample:
    scopes = available_scopes(user)
    flags = [case((_scope_condition(user, s), 1), else_=0) for s in scopes]
    rows = db.session.execute(
        select(TaskRow.id, *flags)
        .where(_ready(scopes), or_(*[_scope_condition(user, s) for s in scopes]), *conditions).limit(cap + 1)).all()
    return _Sample(scopes, [tuple(r) for r in rows])


def _bound_scope(admin: bool, scope: str):
    """_scope_condition with the user's name and lanes as parameters, so that its statements are built once."""
    if scope == "mine":
        return TaskRow.assignee == bindparam("me")
    if scope == "group":
        return TaskRow.assignee.is_(None) if admin else and_(
            TaskRow.assignee.is_(None), TaskRow.lane.in_(bindparam("lanes", expanding=True)))
    return true()


_PLAIN: dict[tuple, tuple] = {}  # (dialect, tabs, admin, tab, sort, groups?) -> (page, tail) statements, no filter


def _capped_count(admin: bool, scope: str):
    """A tab's count, stopped at cap + 1, as a scalar subquery (parameters: me, lanes, cap)."""
    # A constant, not the id: the walk then reads the tab's index alone (the id is not in it).
    walk = (select(ONE).select_from(TaskRow).where(_ready([scope]), _bound_scope(admin, scope))
            .limit(bindparam("cap", type_=Integer)).correlate(None).subquery())  # never the page's own row
    return select(func.count()).select_from(walk).scalar_subquery()


def _plain_statements(user: User, scope: str, sort: str) -> tuple[list[str], object, object]:
    """The unfiltered page in one statement (list_page.statement): the tab's rows, their cases' forecast input, every
    tab's count and the page's extras as extra columns, built once per shape and reused (and the counts with
    the extras alone, for a page past the last row).

    The most viewed page has no filter: building its expressions (and their cache keys) again on every view
    cost as much as running them, and each statement is a round trip. Only the user's name and lanes, the cap
    and the paging vary: parameters.
    """
    scopes = available_scopes(user)
    key = (dialect(), tuple(scopes), user.is_admin, scope, sort, bool(user.groups))
    found = _PLAIN.get(key)
    if found is None:
        admin = user.is_admin
        tail = [_capped_count(admin, s) for s in scopes] + list_page.extra_columns(user)[0]
        walk = (select(*list_page.COLUMNS).where(TaskRow.state == READY, _bound_scope(admin, scope))
                .order_by(*_order(sort)).limit(bindparam("lim", type_=Integer))
                .offset(bindparam("off", type_=Integer)))
        if len(_PLAIN) > 64:
            _PLAIN.clear()
        found = _PLAIN[key] = (list_page.statement(walk, lambda t: _order(sort, t), tail), select(*tail))
    return scopes, *found


def _read(statement, tail_statement, params: dict, per_page: int) -> tuple[list, dict, tuple]:
    """(rows, forecasts, tail) of a page statement; the tail alone by a second statement when no row came."""
    rows, forecasts, tail = list_page.read(db.session.connection().execute(statement, params), per_page)
    if tail is None:
        tail = tuple(db.session.execute(tail_statement, params).one())
    return rows, forecasts, tail


def _plain_page(user: User, scope: str, sort: str, limit: int, offset: int) -> tuple[list, dict, dict, tuple]:
    """(rows of an unfiltered page (up to limit), forecasts, each tab's count up to COUNT_CAP + 1, tail)."""
    scopes, statement, tail_statement = _plain_statements(user, scope, sort)
    params = {"me": user.username, "lanes": list(user.groups), "cap": COUNT_CAP + 1, "lim": limit, "off": offset,
              **list_page.extra_columns(user)[1]}
    rows, forecasts, tail = _read(statement, tail_statement, params, limit - 1)
    return rows, forecasts, dict(zip(scopes, tail[:len(scopes)], strict=True)), tail


def _scope_ids(user: User, scope: str, conditions: list, cap: int) -> list[str]:
    """The ids of a tab's rows under the filters, unordered, at most cap + 1 of them."""
    query = (select(TaskRow.id).where(_ready([scope]), _scope_condition(user, scope), *conditions).limit(cap + 1))
    return list(db.session.scalars(query))


def tab_counts(user: User, filters: TaskFilters | None = None, cap: int | None = None) -> dict[str, int]:
    """The count of each tab the user may open under the same filters, up to cap + 1 ("more than cap")."""
    cap = COUNT_CAP if cap is None else cap
    conditions = _filter_conditions(filters)
    sample = _sample(user, conditions, cap)
    counts = {s: sample.count(s) for s in sample.scopes}
    if sample.complete(cap):
        return counts
    return {s: n if n > cap else _count(user, s, conditions, cap) for s, n in counts.items()}


def count_label(n: int) -> str:
    """A tab count as shown: '35', or '1 000+' once counting stopped (narrow no-break space, French style)."""
    return f"{COUNT_CAP:,}+".replace(",", "\u202f") if n > COUNT_CAP else str(n)


@dataclass
class TaskPage:
    """What the task list page shows: its rows, the tab counts, paging, the forecast of the rows' cases, and the
    top bar's and filters' values read with them (list_page.Extras)."""

    scope: str
    page: int
    per_page: int
    rows: list[list_page.PageRow]
    counts: dict[str, int]  # up to COUNT_CAP + 1
    has_next: bool
    forecasts: dict[int, forecast.Forecast] = field(default_factory=dict)
    unread_notifications: int = 0
    versions_key: str | None = None  # definitions.versions_key(), for tasks.actions.list_options

    @property
    def pages(self) -> int | None:
        """The number of pages, or None when the count stopped at the cap."""
        n = self.counts[self.scope]
        return None if n > COUNT_CAP else max(1, ceil(n / self.per_page))


def _filtered_page(user: User, scope: str, conditions: list, sort: str, limit: int,
                   offset: int) -> tuple[list, dict, dict, tuple]:
    sample = _sample(user, conditions, COUNT_CAP)
    counts = {s: sample.count(s) for s in sample.scopes}
    ids = sample.ids(scope) if sample.complete(COUNT_CAP) else None
    if ids is None:
        for s, n in counts.items():
            if n > COUNT_CAP:
                continue
            if s == scope:
                found = _scope_ids(user, s, conditions, COUNT_CAP)
                counts[s] = len(found)
                ids = found if len(found) <= COUNT_CAP else None
            else:
                counts[s] = _count(user, s, conditions, COUNT_CAP)
    tail, params = list_page.extra_columns(user)
    if ids == []:
        return [], {}, counts, tuple(db.session.execute(select(*tail), params).one())
    walk = (select(*list_page.COLUMNS).where(TaskRow.state == READY, _scope_condition(user, scope),
                                        *(conditions if ids is None else [TaskRow.id.in_(ids)]))
            .order_by(*_order(sort)).limit(limit).offset(offset))
    rows, forecasts, tail_values = _read(list_page.statement(walk, lambda t: _order(sort, t), tail), select(*tail),
                                         params, limit - 1)
    return rows, forecasts, counts, tail_values


def task_page(user: User, scope: str, filters: TaskFilters, page: int = 1, per_page: int = 50) -> TaskPage:
    """One page of a tab: its rows (one more is read to know whether a next page exists), counts, markers.

    Unfiltered (the common view): one prebuilt statement, the tab's index walk with each tab's capped count as
    extra columns (_plain_page). Filtered:
    Bounded work whatever the filters: first up to COUNT_CAP + 1 rows visible in any tab. When fewer exist (a
    narrow search or filter), they give every count exactly and a filtered page is sorted from their ids alone.
    When more exist, each tab's count stops at COUNT_CAP + 1; the open tab's query keeps its ids, so a filtered
    tab with few matching rows is still paged from them, and only a tab with many walks its index in the list's
    order, which finds a page quickly precisely because matches are dense.
    Either way the page's statement also reads the forecast input of the shown rows' cases (one indexed join,
    medians cached: forecast.py) and the page's extras (list_page.py).
    """
    _check_scope(user, scope)
    conditions = _filter_conditions(filters)  # built once: the "at risk" condition reads the cached medians
    offset = (page - 1) * per_page
    if not conditions:  # unfiltered, a tab's index range holds only its rows: the walk is short
        rows, forecasts, counts, tail = _plain_page(user, scope, filters.sort, per_page + 1, offset)
    else:
        rows, forecasts, counts, tail = _filtered_page(user, scope, conditions, filters.sort, per_page + 1, offset)
    extras = list_page.extras(tail)
    return TaskPage(scope=scope, page=page, per_page=per_page, rows=rows[:per_page], counts=counts,
                    has_next=len(rows) > per_page, forecasts=forecasts,
                    unread_notifications=extras.unread_notifications, versions_key=extras.versions_key)
