"""CSV exports: the cases of a period (streamed) and the indicator figures (one row per figure)."""

from collections.abc import Iterator

from sqlalchemy import select

from app.extensions import db
from app.models import Case, ProcessDefinition
from app.services.core import csv_export
from app.services.indicators.figures import Filters, case_conditions, in_period

CASE_COLUMNS = ("reference", "process_key", "version", "status", "stage", "channel", "origin", "kind", "category",
                "department", "severity", "customer_name", "amount", "blocked_amount", "credited_amount",
                "satisfaction_score", "root_cause", "received_at", "due_at", "closed_at")
INDICATOR_COLUMNS = ("indicator", "dimension", "measure", "value")
BATCH = 1000


def cases_csv(filters: Filters) -> Iterator[str]:
    """The cases received in the period matching the filters, as CSV lines (header first), read in batches."""
    yield csv_export.BOM
    yield from csv_export.lines([CASE_COLUMNS])
    columns = [getattr(Case, c) for c in CASE_COLUMNS if c != "version"]
    columns.insert(2, ProcessDefinition.version)
    query = (select(*columns).join(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
             .where(in_period(Case.received_at, filters), *case_conditions(filters))
             .order_by(Case.received_at, Case.id).execution_options(yield_per=BATCH))
    yield from csv_export.lines(db.session.execute(query))


def flatten(figures: dict) -> list[tuple]:
    """The indicator figures as (indicator, dimension, measure, value) rows, the same numbers as the JSON."""
    rows = [("period", "", "from", figures["filters"]["from"]), ("period", "", "to", figures["filters"]["to"])]
    volume = figures["volume"]
    rows.append(("volume", "", "total", volume["total"]))
    rows += [("volume", s["bucket"], "count", s["count"]) for s in volume["series"]]
    for key, items in figures["breakdowns"].items():
        rows += [(f"breakdown_{key}", i["key"] or "", "count", i["count"]) for i in items]
    overall = figures["processing_time"]["overall"]
    rows += [("processing_time", "overall", m, overall[m]) for m in ("count", "median_days", "p90_days")]
    for step in figures["processing_time"]["steps"]:
        rows += [("processing_time", f"{step['process']}:{step['bpmn_id']}", m, step[m])
                 for m in ("count", "median_days", "p90_days")]
    rows += [("deadline", "", m, figures["deadline"][m]) for m in ("answered", "on_time", "late", "share")]
    for step in figures["backlog"]["steps"]:
        rows += [("backlog", f"{step['process']}:{step['bpmn_id']}", b, step["counts"][b])
                 for b in figures["backlog"]["buckets"]]
    rows.append(("backlog", "", "total", figures["backlog"]["total"]))
    rows.append(("overdue", "", "count", figures["overdue"]["count"]))
    rows += [("overdue_case", c["reference"], "days_late", c["days_late"]) for c in figures["overdue"]["cases"]]
    rows += [("satisfaction", "", m, v) for m, v in figures["satisfaction"].items()]
    rows += [("disputes", "", m, v) for m, v in figures["disputes"].items()]
    for key, name in (("categories", "top_category"), ("root_causes", "top_root_cause")):
        for item in figures["top_causes"][key]:
            rows += [(name, item["key"], m, item[m]) for m in ("count", "previous", "trend")]
    for item in figures["satisfaction_by_path"]:
        path = f"{item['process']}:{'>'.join(item['path'])}"
        rows += [("satisfaction_by_path", path, m, item[m]) for m in ("count", "average_score")]
    for item in figures["satisfaction_by_version"]:
        rows += [("satisfaction_by_version", f"{item['process']} v{item['version']}", m, item[m])
                 for m in ("count", "average_score")]
    rows.append(("forecast", "", "at_risk", figures["forecast"]["count"]))
    rows += [("forecast_case", c["reference"], "estimated_at", c["estimated_at"]) for c in figures["forecast"]["cases"]]
    for item in figures["recurrence"]:
        rows += [("recurrence", f"action {item['id']}", m, item[m]) for m in ("days", "before", "after")]
    return rows


def indicators_csv(figures: dict) -> str:
    """The indicator figures as one CSV document."""
    return csv_export.document(INDICATOR_COLUMNS, flatten(figures))
