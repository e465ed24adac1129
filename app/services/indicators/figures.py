"""Indicators over a period and filters, from SQL aggregation: never from deserialized workflows.

Days are Europe/Paris calendar days (as the rollup's buckets): the period is [from 00:00, to + 1 day 00:00) Paris
time, 23 or 25 hours on the days the clocks change. Populations:
volume, breakdowns, top causes and disputes count cases *received* in the period; processing time per step
counts tasks *completed* in it; overall processing time and satisfaction count cases *closed* in it; the
deadline share counts cases whose latest answer letter was *sent* in it; backlog, overdue cases and the
forecast are snapshots at the time of the request (the filters apply, the period does not).

Where figures come from: counts and sums from the daily rollup `case_rollup` (a few hundred rows a day,
kept by every transaction, app/services/core/rollup.py); percentiles by walking an index in duration order to the
wanted rank (`sql_stats.walk_percentiles`), so no query reads every task or case of the period, and for the steps
of an unfiltered dashboard from the rollup's duration histograms, which say where in the index to start
(`sql_stats.histogram_percentiles`); snapshots
from the indexed open cases and ready tasks.
"""

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal_column, or_, select

from app import clock
from app.extensions import db
from app.models import Case, CaseRollup, ProcessDefinition, TaskRow
from app.services.core import bounds, definitions
from app.services.core.calendar import day_start, paris_day
from app.services.core.errors import Invalid
from app.services.core.rollup import ANSWERED_STATUSES, PATH_SEPARATOR, period_ranges
from app.services.core.sql_stats import histogram_percentiles, moment, percentiles_of
from app.services.indicators import labels

FILTER_KEYS = ("process", "channel", "origin", "kind", "category", "department")
BREAKDOWNS = ("origin", "kind", "channel", "category")
AGE_BUCKETS = (("0-7", 7), ("8-15", 15), ("16-30", 30), ("31+", None))  # days since the case was received
OPEN_FOR_DEADLINE = ANSWERED_STATUSES  # statuses after which the answer deadline no longer runs
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
        return day_start(self.start)

    @property
    def end_at(self) -> datetime:
        return day_start(self.end + timedelta(days=1))

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
    today = paris_day(clock.now())
    dates = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            dates[name] = bounds.check_day(date.fromisoformat(raw), name)
        except ValueError:
            errors[name] = "Date attendue au format AAAA-MM-JJ."
        except Invalid as exc:
            errors.update(exc.errors)
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


def filter_conditions(model, filters: Filters, process: bool = True) -> list:
    """WHERE conditions for the filters (not the period) on a model with the filter columns: case, rollup, task."""
    conds = []
    if process and filters.process:
        conds.append(model.process_key == filters.process)
    for key in FILTER_KEYS[1:]:
        value = getattr(filters, key)
        if value:
            conds.append(getattr(model, key) == value)
    return conds


def case_conditions(filters: Filters) -> list:
    """WHERE conditions on Case for the filters (not the period)."""
    return filter_conditions(Case, filters)


def in_period(column, filters: Filters):
    return and_(column >= filters.start_at, column < filters.end_at)


def _days(seconds) -> float | None:
    return None if seconds is None else round(seconds / DAY, 2)


def _money(value) -> float:
    return round(float(value or 0), 2)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- figures ------------------------------------------------------------------------------------------

def _rollup(basis: str, filters: Filters, *columns, where=(), by_day: bool = False):
    """SELECT columns FROM case_rollup for one basis, the period and the filters.

    Each figure is read once: from the month rows for the period's whole months, from the day rows for the rest
    (only day rows with `by_day`, for series by day or week).
    """
    row = CaseRollup
    conds = [or_(*(and_(row.basis == basis, row.period == period, row.day >= lo, row.day < hi)
                   for period, lo, hi in period_ranges(filters.start, filters.end, by_day))), *where]
    return select(*columns).where(*conds, *filter_conditions(row, filters))


def _sum(column):
    return func.coalesce(func.sum(column), 0)


def volume(filters: Filters) -> dict:
    """Cases received in the period, by day, week (starting Monday) or month."""
    unit = granularity(filters)
    rows = db.session.execute(_rollup("received", filters, CaseRollup.day, _sum(CaseRollup.cases),
                                      by_day=unit != "month").group_by(CaseRollup.day))
    per_day = {_as_date(d): int(n) for d, n in rows if n}
    buckets: dict[date, int] = {}
    current = filters.start
    while current <= filters.end:
        buckets.setdefault(_bucket(current, unit), 0)
        current += timedelta(days=1)
    for d, n in per_day.items():
        buckets[_bucket(d, unit)] += n
    series = [{"bucket": b.isoformat(), "count": n} for b, n in sorted(buckets.items())]
    return {"granularity": unit, "total": sum(per_day.values()), "series": series}


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _bucket(d: date, unit: str) -> date:
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    return d


def breakdowns(filters: Filters, cat: dict) -> dict:
    """Cases received in the period by origin, kind, channel and category (one grouped read for the four)."""
    columns = [getattr(CaseRollup, key) for key in BREAKDOWNS]
    counts: dict[str, dict] = {key: {} for key in BREAKDOWNS}
    for *values, n in db.session.execute(_rollup("received", filters, *columns, _sum(CaseRollup.cases))
                                         .group_by(*columns)):
        for key, value in zip(BREAKDOWNS, values, strict=True):
            counts[key][value] = counts[key].get(value, 0) + int(n)
    out = {}
    for key in BREAKDOWNS:
        items = [{"key": k, "label": labels.option(cat, key, k), "count": n} for k, n in counts[key].items() if n]
        out[key] = sorted(items, key=lambda i: (-i["count"], i["key"] or ""))
    return out


def _steps(filters: Filters) -> list[tuple[str, str]]:
    """(process, user task) pairs of every deployed version, the process filter applied."""
    return sorted(s for s in definitions.user_tasks_of_deployed() if not filters.process or s[0] == filters.process)


def processing_time(filters: Filters, cat: dict, histograms: bool = True) -> dict:
    """Median and 90th percentile, in days: per step (task created -> completed) and overall (received -> closed).

    Unfiltered (or by process only), a step's count and the histogram of its durations come from its `step`
    rollup rows, the histogram of processing times from the `closing` ones, and the percentiles from a short
    walk of the duration index from the wanted ranks' buckets (sql_stats.histogram_percentiles); with other
    filters, from a range count and a walk of the task or case index.
    `histograms=False` takes the second way for every step (the same figures: tests compare them).
    """
    steps = []
    filtered = filter_conditions(TaskRow, filters, process=False)
    by_index = bool(filtered) or not histograms
    counted: dict[tuple, dict] = {}
    if not filtered:
        for p, b, bucket, n in db.session.execute(
                _rollup("step", filters, CaseRollup.process_key, CaseRollup.bpmn_id, CaseRollup.duration_bucket,
                        _sum(CaseRollup.cases))
                .group_by(CaseRollup.process_key, CaseRollup.bpmn_id, CaseRollup.duration_bucket)):
            counted.setdefault((p, b), {})[bucket] = int(n)
    for process, bpmn_id in (_steps(filters) if filtered else sorted(counted)):
        conds = [TaskRow.process_key == process, TaskRow.bpmn_id == bpmn_id, TaskRow.state == "completed",
                 *filtered]
        histogram = counted.get((process, bpmn_id), {})
        n = db.session.scalar(select(func.count()).select_from(TaskRow).where(
            in_period(TaskRow.completed_at, filters), *conds)) if filtered else sum(histogram.values())
        if not n:
            continue
        period = (TaskRow.completed_at, filters.start_at, filters.end_at)
        if by_index or histogram.get(None):  # a NULL duration has no bucket: the plain walk
            stats = percentiles_of(TaskRow.duration_seconds, conds, n, period)
        else:
            stats = histogram_percentiles(TaskRow.duration_seconds, conds, histogram, period)
        steps.append({"process": process, "bpmn_id": bpmn_id, "name": labels.task(cat, process, bpmn_id),
                      "count": n, "median_days": _days(stats[0.5]), "p90_days": _days(stats[0.9])})
    steps.sort(key=lambda s: (s["process"], -(s["median_days"] or 0), s["bpmn_id"]))
    n = int(db.session.scalar(_rollup("closed", filters, _sum(CaseRollup.timed))) or 0)
    overall = {"count": n, "median_days": None, "p90_days": None}
    if n:
        period = (Case.closed_at, filters.start_at, filters.end_at)
        histogram = {} if by_index else {bucket: int(k) for bucket, k in db.session.execute(
            _rollup("closing", filters, CaseRollup.duration_bucket, _sum(CaseRollup.cases))
            .group_by(CaseRollup.duration_bucket))}  # the `closing` rows: by process only, as the `step` ones
        if sum(histogram.values()) != n:  # filtered, or cases closed without a processing time
            stats = percentiles_of(Case.processing_seconds, case_conditions(filters), n, period)
        else:
            stats = histogram_percentiles(Case.processing_seconds, case_conditions(filters), histogram, period)
        overall.update(median_days=_days(stats[0.5]), p90_days=_days(stats[0.9]))
    return {"overall": overall, "steps": steps}


def answered_within_deadline(filters: Filters) -> dict:
    """Share of cases answered by their deadline: the latest answer letter sent vs the case's due_at.

    Counts cases whose latest answer (response or rejection letter) was sent in the period and that are no longer
    waiting for an answer (a re-examined case counts again once answered again); sent at the due moment is on time.
    """
    total, met = db.session.execute(_rollup("answered", filters, _sum(CaseRollup.cases),
                                            _sum(CaseRollup.on_time))).one()
    total, met = int(total), int(met)
    return {"answered": total, "on_time": met, "late": total - met, "share": _share(met, total)}


def _open_case():
    return Case.closed_at.is_(None)


READY = literal_column("'ready'")  # a literal: prepared statements' generic plans then use the partial indexes


def backlog(filters: Filters, cat: dict, now: datetime) -> dict:
    """Ready tasks of open cases by step and by age of the case (days since received): a join of two partial
    indexes read alone (ix_task_ready_case, ix_case_open_facts), not of the task and case rows."""
    bucket = case(*[(Case.received_at > moment(now - timedelta(days=limit)), name)
                    for name, limit in AGE_BUCKETS if limit is not None], else_=AGE_BUCKETS[-1][0])
    rows = db.session.execute(
        select(TaskRow.process_key, TaskRow.bpmn_id, bucket.label("bucket"), func.count())
        .join(Case, Case.id == TaskRow.case_id)
        .where(TaskRow.state == READY, _open_case(), *case_conditions(filters))
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


def satisfaction(filters: Filters) -> dict:
    """For cases closed in the period: surveys sent, answered, response rate and average score (1 to 5)."""
    sent, answered, total = (int(v) for v in db.session.execute(_rollup(
        "closed", filters, _sum(CaseRollup.surveys), _sum(CaseRollup.scored), _sum(CaseRollup.score_sum))).one())
    return {"surveys_sent": sent, "answered": answered, "response_rate": _share(answered, sent),
            "average_score": round(total / answered, 2) if answered else None}


def disputes(filters: Filters, now: datetime) -> dict:
    """Disputes received in the period: number, amounts blocked and credited, average days blocked."""
    litige = [CaseRollup.process_key == "litige"]
    count, closed, closed_seconds, open_received, blocked, credited = db.session.execute(_rollup(
        "received", filters, *(_sum(getattr(CaseRollup, m)) for m in (
            "cases", "closed", "closed_seconds", "open_received", "blocked", "credited")), where=litige)).one()
    count = int(count)
    average = None
    if count:  # closed ones: received -> closed; open ones: received -> now
        seconds = int(closed_seconds) + (count - int(closed)) * round(now.timestamp()) - int(open_received)
        average = _days(seconds / count)
    conds = [Case.process_key == "litige", *case_conditions(filters)]
    open_count, open_blocked = db.session.execute(
        select(func.count(), func.sum(Case.blocked_amount)).where(_open_case(), *conds)).one()
    return {"count": count, "blocked_amount": _money(blocked), "credited_amount": _money(credited),
            "average_days_blocked": average, "open_count": open_count, "open_blocked_amount": _money(open_blocked)}


def top_causes(filters: Filters, cat: dict, limit: int = 10) -> dict:
    """Most frequent categories and root causes in the period, with the count in the previous period."""
    previous = filters.previous()

    def counts(f: Filters) -> dict[str, dict]:  # one grouped read per period for both rankings
        out = {"categories": {}, "root_causes": {}}
        columns = (CaseRollup.category, CaseRollup.root_cause)
        for category, cause, n in db.session.execute(_rollup("received", f, *columns, _sum(CaseRollup.cases))
                                                     .group_by(*columns)):
            for key, value in (("categories", category), ("root_causes", cause)):
                if value not in (None, "") and n:
                    out[key][value] = out[key].get(value, 0) + int(n)
        return out

    current, earlier = counts(filters), counts(previous)
    out = {}
    for key in ("categories", "root_causes"):
        now_counts, before = current[key], earlier[key]
        ranked = sorted(now_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        out[key] = [{"key": k, "label": labels.option(cat, "category", k) if key == "categories" else k,
                     "count": n, "previous": before.get(k, 0), "trend": n - before.get(k, 0)} for k, n in ranked]
    out["previous_period"] = {"from": previous.start.isoformat(), "to": previous.end.isoformat()}
    return out


def satisfaction_by_path(filters: Filters, cat: dict) -> list[dict]:
    """Average survey score of cases closed in the period, by the sequence of user tasks done before closure."""
    rows = db.session.execute(_rollup("closed", filters, CaseRollup.process_key, CaseRollup.path,
                                      _sum(CaseRollup.scored), _sum(CaseRollup.score_sum),
                                      where=[CaseRollup.path.is_not(None)])
                              .group_by(CaseRollup.process_key, CaseRollup.path))
    out = []
    for process, text, n, total in rows:
        if not n:
            continue
        steps = text.split(PATH_SEPARATOR)
        out.append({"process": process, "path": steps, "names": [labels.task(cat, process, s) for s in steps],
                    "count": int(n), "average_score": round(int(total) / int(n), 2)})
    return sorted(out, key=lambda p: (-p["count"], p["process"], p["path"]))


def satisfaction_by_version(filters: Filters, cat: dict) -> list[dict]:
    """Average survey score of cases closed in the period, by process and version they ran on."""
    per_definition = {d: (int(n), int(total)) for d, n, total in db.session.execute(
        _rollup("closed", filters, CaseRollup.definition_id, _sum(CaseRollup.scored), _sum(CaseRollup.score_sum))
        .group_by(CaseRollup.definition_id)) if n}
    versions = dict(((d.id), (d.key, d.version)) for d in db.session.execute(
        select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version)
        .where(ProcessDefinition.id.in_(list(per_definition)))))
    merged: dict[tuple, list[int]] = {}
    for definition_id, (n, total) in per_definition.items():
        entry = merged.setdefault(versions[definition_id], [0, 0])
        entry[0] += n
        entry[1] += total
    return [{"process": key, "process_name": cat["processes"].get(key, key), "version": version, "count": n,
             "average_score": round(total / n, 2)} for (key, version), (n, total) in sorted(merged.items())]


def compute(filters: Filters) -> dict:
    """Every figure of the dashboard for the period and filters (JSON-ready)."""
    from app.services.quality import capa
    from app.services.tasks import forecast

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
