"""Indicators over a period and filters, from SQL aggregation over indexed case columns, the task table and
the audit log: never from deserialized workflows.

Days are UTC days; the period is [from 00:00, to + 1 day 00:00). Populations:
volume, breakdowns, top causes and disputes count cases *received* in the period; processing time per step
counts tasks *completed* in it; overall processing time and satisfaction count cases *closed* in it; the
deadline share counts cases whose latest answer was *sent* in it; backlog, overdue cases and the forecast are
snapshots at the time of the request (the filters apply, the period does not).
"""

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, literal, select

from app import clock
from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition, TaskRow
from app.services import labels
from app.services.errors import Invalid
from app.services.sql_stats import day_of, moment, percentiles, seconds_between

FILTER_KEYS = ("process", "channel", "origin", "kind", "category", "department")
BREAKDOWNS = ("origin", "kind", "channel", "category")
AGE_BUCKETS = (("0-7", 7), ("8-15", 15), ("16-30", 30), ("31+", None))  # days since the case was received
ANSWER_TEMPLATES = ("response", "rejection")  # a letter that answers the complainant (acceptance or refusal)
OPEN_FOR_DEADLINE = ("answered", "resolved", "closed")  # statuses after which the answer deadline no longer runs
MAX_DAYS = 3 * 366
DAY = 86400.0


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    process: str | None = None
    channel: str | None = None
    origin: str | None = None
    kind: str | None = None
    category: str | None = None
    department: str | None = None

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Filters":
        """The period of the same length just before this one, same filters."""
        span = timedelta(days=self.days)
        return Filters(self.start - span, self.end - span,
                       **{k: getattr(self, k) for k in FILTER_KEYS})

    def as_dict(self) -> dict:
        out = asdict(self)
        out["from"], out["to"] = out.pop("start").isoformat(), out.pop("end").isoformat()
        return out


def parse_filters(args) -> Filters:
    """Filters from query arguments (from, to as YYYY-MM-DD, and the filter keys); Invalid on bad input."""
    errors = {}
    today = clock.now().astimezone(UTC).date()
    dates = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            dates[name] = date.fromisoformat(raw)
        except ValueError:
            errors[name] = "Date attendue au format AAAA-MM-JJ."
    end = dates.get("to", today)
    start = dates.get("from", end - timedelta(days=29))
    if not errors and start > end:
        errors["from"] = "Le début de la période doit précéder sa fin."
    elif not errors and (end - start).days >= MAX_DAYS:
        errors["from"] = "Période trop longue (trois ans au plus)."
    values = {}
    for key in FILTER_KEYS:
        raw = (args.get(key) or "").strip()
        if len(raw) > 100:
            errors[key] = "Valeur trop longue."
        values[key] = raw or None
    if errors:
        raise Invalid(errors)
    return Filters(start, end, **values)


def granularity(filters: Filters) -> str:
    """day up to two months, week up to about six months, month beyond."""
    return "day" if filters.days <= 62 else "week" if filters.days <= 190 else "month"


def case_conditions(filters: Filters) -> list:
    """WHERE conditions on Case for the filters (not the period)."""
    conds = []
    if filters.process:
        conds.append(Case.process_key == filters.process)
    for key in FILTER_KEYS[1:]:
        value = getattr(filters, key)
        if value:
            conds.append(getattr(Case, key) == value)
    return conds


def _in_period(column, filters: Filters):
    return and_(column >= filters.start_at, column < filters.end_at)


def _days(seconds) -> float | None:
    return None if seconds is None else round(seconds / DAY, 2)


def _money(value) -> float:
    return round(float(value or 0), 2)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- figures ------------------------------------------------------------------------------------------

def volume(filters: Filters) -> dict:
    """Cases received in the period, by day, week (starting Monday) or month."""
    day = day_of(Case.received_at)
    rows = db.session.execute(select(day, func.count()).where(
        _in_period(Case.received_at, filters), *case_conditions(filters)).group_by(day))
    per_day = {date.fromisoformat(d): n for d, n in rows}
    unit = granularity(filters)
    buckets: dict[date, int] = {}
    current = filters.start
    while current <= filters.end:
        buckets.setdefault(_bucket(current, unit), 0)
        current += timedelta(days=1)
    for d, n in per_day.items():
        buckets[_bucket(d, unit)] += n
    series = [{"bucket": b.isoformat(), "count": n} for b, n in sorted(buckets.items())]
    return {"granularity": unit, "total": sum(per_day.values()), "series": series}


def _bucket(d: date, unit: str) -> date:
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    return d


def breakdowns(filters: Filters, cat: dict) -> dict:
    """Cases received in the period by origin, kind, channel and category."""
    out = {}
    for key in BREAKDOWNS:
        column = getattr(Case, key)
        rows = db.session.execute(select(column, func.count()).where(
            _in_period(Case.received_at, filters), *case_conditions(filters)).group_by(column))
        items = [{"key": k, "label": labels.option(cat, key, k), "count": n} for k, n in rows]
        out[key] = sorted(items, key=lambda i: (-i["count"], i["key"] or ""))
    return out


def processing_time(filters: Filters, cat: dict) -> dict:
    """Median and 90th percentile, in days: per step (task created → completed) and overall (received → closed)."""
    step_base = (select(TaskRow.process_key.label("process"), TaskRow.bpmn_id.label("bpmn_id"),
                        seconds_between(TaskRow.created_at, TaskRow.completed_at).label("v"))
                 .join(Case, Case.id == TaskRow.case_id)
                 .where(TaskRow.state == "completed", _in_period(TaskRow.completed_at, filters),
                        *case_conditions(filters)))
    steps = []
    for (process, bpmn_id), stats in percentiles(step_base, ["process", "bpmn_id"]).items():
        steps.append({"process": process, "bpmn_id": bpmn_id, "name": labels.task(cat, process, bpmn_id),
                      "count": stats["count"], "median_days": _days(stats[0.5]), "p90_days": _days(stats[0.9])})
    steps.sort(key=lambda s: (s["process"], -(s["median_days"] or 0), s["bpmn_id"]))
    overall_base = (select(seconds_between(Case.received_at, Case.closed_at).label("v"))
                    .where(_in_period(Case.closed_at, filters), Case.received_at.is_not(None),
                           *case_conditions(filters)))
    stats = percentiles(overall_base, []).get((), {"count": 0, 0.5: None, 0.9: None})
    overall = {"count": stats["count"], "median_days": _days(stats[0.5]), "p90_days": _days(stats[0.9])}
    return {"overall": overall, "steps": steps}


def answered_within_deadline(filters: Filters) -> dict:
    """Share of cases answered by their deadline: the latest answer letter sent vs the case's due_at.

    Counts cases whose latest answer of the period (response or rejection letter) was sent in it and that are no longer
    waiting for an answer (a re-examined case counts again once answered again); sent at the due moment is on time.
    """
    answers = (select(AuditEvent.case_id.label("case_id"), func.max(AuditEvent.at).label("answered_at"))
               .where(AuditEvent.type == "message_sent", _in_period(AuditEvent.at, filters),
                      AuditEvent.data["template"].as_string().in_(ANSWER_TEMPLATES))
               .group_by(AuditEvent.case_id).subquery())
    on_time = case((answers.c.answered_at <= Case.due_at, 1), else_=0)
    total, met = db.session.execute(
        select(func.count(), func.coalesce(func.sum(on_time), 0))
        .select_from(Case).join(answers, answers.c.case_id == Case.id)
        .where(_in_period(answers.c.answered_at, filters), Case.due_at.is_not(None),
               Case.status.in_(OPEN_FOR_DEADLINE), *case_conditions(filters))).one()
    return {"answered": int(total), "on_time": int(met), "late": int(total) - int(met),
            "share": _share(int(met), int(total))}


def _open_case():
    return Case.closed_at.is_(None)


def backlog(filters: Filters, cat: dict, now: datetime) -> dict:
    """Ready tasks of open cases by step and by age of the case (days since received)."""
    bucket = case(*[(Case.received_at > moment(now - timedelta(days=limit)), name)
                    for name, limit in AGE_BUCKETS if limit is not None], else_=AGE_BUCKETS[-1][0])
    rows = db.session.execute(
        select(TaskRow.process_key, TaskRow.bpmn_id, bucket.label("bucket"), func.count())
        .join(Case, Case.id == TaskRow.case_id)
        .where(TaskRow.state == "ready", _open_case(), *case_conditions(filters))
        .group_by(TaskRow.process_key, TaskRow.bpmn_id, bucket))
    names = [name for name, _ in AGE_BUCKETS]
    steps: dict[tuple, dict] = {}
    for process, bpmn_id, name, n in rows:
        entry = steps.setdefault((process, bpmn_id), {
            "process": process, "bpmn_id": bpmn_id, "name": labels.task(cat, process, bpmn_id),
            "counts": dict.fromkeys(names, 0), "total": 0})
        entry["counts"][name] += n
        entry["total"] += n
    ordered = sorted(steps.values(), key=lambda s: (-s["total"], s["process"], s["bpmn_id"]))
    return {"buckets": names, "total": sum(s["total"] for s in ordered), "steps": ordered}


def overdue(filters: Filters, now: datetime, limit: int = 20) -> dict:
    """Open cases past their answer deadline and not answered yet: how many, and the oldest ones."""
    conds = [_open_case(), Case.due_at < now, Case.status.not_in(OPEN_FOR_DEADLINE), *case_conditions(filters)]
    count = db.session.scalar(select(func.count()).select_from(Case).where(*conds)) or 0
    rows = db.session.execute(select(Case.reference, Case.due_at, Case.stage, Case.customer_name)
                              .where(*conds).order_by(Case.due_at, Case.reference).limit(limit))
    cases = [{"reference": r.reference, "due_at": r.due_at.isoformat(), "days_late": _days((now - r.due_at)
              .total_seconds()), "stage": r.stage, "customer_name": r.customer_name} for r in rows]
    return {"count": count, "cases": cases}


def _messages(template: str, since):
    return (select(AuditEvent.case_id).where(AuditEvent.type == "message_sent", AuditEvent.at >= since,
                                             AuditEvent.data["template"].as_string() == template))


def satisfaction(filters: Filters) -> dict:
    """For cases closed in the period: surveys sent, answered, response rate and average score (1 to 5)."""
    closed = [_in_period(Case.closed_at, filters), *case_conditions(filters)]
    sent = db.session.scalar(select(func.count()).select_from(Case).where(
        *closed, Case.id.in_(_messages("survey", filters.start_at)))) or 0
    answered, average = db.session.execute(select(func.count(Case.satisfaction_score),
                                                  func.avg(Case.satisfaction_score)).where(*closed)).one()
    return {"surveys_sent": sent, "answered": int(answered or 0), "response_rate": _share(int(answered or 0), sent),
            "average_score": None if average is None else round(float(average), 2)}


def disputes(filters: Filters, now: datetime) -> dict:
    """Disputes received in the period: number, amounts blocked and credited, average days blocked."""
    days = seconds_between(Case.received_at, func.coalesce(Case.closed_at, moment(now)))
    conds = [Case.process_key == "litige", *case_conditions(filters)]
    count, blocked, credited, avg_seconds = db.session.execute(
        select(func.count(), func.sum(Case.blocked_amount), func.sum(Case.credited_amount), func.avg(days))
        .where(_in_period(Case.received_at, filters), *conds)).one()
    open_count, open_blocked = db.session.execute(
        select(func.count(), func.sum(Case.blocked_amount)).where(_open_case(), *conds)).one()
    return {"count": count, "blocked_amount": _money(blocked), "credited_amount": _money(credited),
            "average_days_blocked": _days(float(avg_seconds)) if avg_seconds is not None else None,
            "open_count": open_count, "open_blocked_amount": _money(open_blocked)}


def top_causes(filters: Filters, cat: dict, limit: int = 10) -> dict:
    """Most frequent categories and root causes in the period, with the count in the previous period."""
    previous = filters.previous()
    out = {}
    for key, column in (("categories", Case.category), ("root_causes", Case.root_cause)):
        def counts(f, column=column):
            return dict(db.session.execute(select(column, func.count()).where(
                _in_period(Case.received_at, f), column.is_not(None), column != "", *case_conditions(f))
                .group_by(column)).all())
        now_counts, before = counts(filters), counts(previous)
        ranked = sorted(now_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        out[key] = [{"key": k, "label": labels.option(cat, "category", k) if key == "categories" else k,
                     "count": n, "previous": before.get(k, 0), "trend": n - before.get(k, 0)} for k, n in ranked]
    out["previous_period"] = {"from": previous.start.isoformat(), "to": previous.end.isoformat()}
    return out


def satisfaction_by_path(filters: Filters, cat: dict) -> list[dict]:
    """Average survey score of cases closed in the period, by the sequence of user tasks done before closure."""
    conds = [_in_period(Case.closed_at, filters), Case.satisfaction_score.is_not(None), *case_conditions(filters)]
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        path = func.string_agg(TaskRow.bpmn_id, aggregate_order_by(
            literal(">"), TaskRow.created_at, TaskRow.completed_at, TaskRow.bpmn_id))
        per_case = (select(Case.process_key.label("process"), Case.satisfaction_score.label("score"),
                           path.label("path"))
                    .join(TaskRow, TaskRow.case_id == Case.id)
                    .where(*conds, TaskRow.state == "completed", TaskRow.created_at < Case.closed_at)
                    .group_by(Case.id, Case.process_key, Case.satisfaction_score).subquery())
    else:
        # SQLite 3.40 has no ORDER BY inside aggregates: concatenate an ordered correlated subquery instead.
        inner = (select(TaskRow.bpmn_id).where(TaskRow.case_id == Case.id, TaskRow.state == "completed",
                                               TaskRow.created_at < Case.closed_at)
                 .order_by(TaskRow.created_at, TaskRow.completed_at, TaskRow.bpmn_id).correlate(Case).subquery())
        path = select(func.group_concat(inner.c.bpmn_id, ">")).scalar_subquery()
        per_case = (select(Case.process_key.label("process"), Case.satisfaction_score.label("score"),
                           path.label("path")).where(*conds).subquery())
    rows = db.session.execute(select(per_case.c.process, per_case.c.path, func.count(), func.avg(per_case.c.score))
                              .where(per_case.c.path.is_not(None)).group_by(per_case.c.process, per_case.c.path))
    out = []
    for process, text, n, avg in rows:
        steps = text.split(">")
        out.append({"process": process, "path": steps, "names": [labels.task(cat, process, s) for s in steps],
                    "count": n, "average_score": round(float(avg), 2)})
    return sorted(out, key=lambda p: (-p["count"], p["process"], p["path"]))


def satisfaction_by_version(filters: Filters, cat: dict) -> list[dict]:
    """Average survey score of cases closed in the period, by process and version they ran on."""
    rows = db.session.execute(
        select(ProcessDefinition.key, ProcessDefinition.version, func.count(), func.avg(Case.satisfaction_score))
        .join(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
        .where(_in_period(Case.closed_at, filters), Case.satisfaction_score.is_not(None), *case_conditions(filters))
        .group_by(ProcessDefinition.key, ProcessDefinition.version))
    return [{"process": key, "process_name": cat["processes"].get(key, key), "version": version, "count": n,
             "average_score": round(float(avg), 2)} for key, version, n, avg in sorted(rows, key=lambda r: r[:2])]


def compute(filters: Filters) -> dict:
    """Every figure of the dashboard for the period and filters (JSON-ready)."""
    from app.services import capa, forecast

    now = clock.now()
    cat = labels.catalogue()
    return {
        "generated_at": now.isoformat(),
        "filters": filters.as_dict(),
        "volume": volume(filters),
        "breakdowns": breakdowns(filters, cat),
        "processing_time": processing_time(filters, cat),
        "deadline": answered_within_deadline(filters),
        "backlog": backlog(filters, cat, now),
        "overdue": overdue(filters, now),
        "satisfaction": satisfaction(filters),
        "disputes": disputes(filters, now),
        "top_causes": top_causes(filters, cat),
        "satisfaction_by_path": satisfaction_by_path(filters, cat),
        "satisfaction_by_version": satisfaction_by_version(filters, cat),
        "forecast": forecast.at_risk(case_conditions(filters), now),
        "recurrence": capa.recurrence_summary(),
    }
