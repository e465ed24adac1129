"""Cost as the work grows: the same figures at 10,000, 100,000 and 1,000,000 cases on PostgreSQL.

    # fill a database (schema by the migrations, processes/, demo users, app/cli/demo_bulk.py, VACUUM ANALYZE)
    python bench/scale.py generate --cases 1000000 --database URL
    # measure a filled database: task list, dashboard, one step, completions/s and task list views/s over HTTP
    python bench/scale.py measure --database URL
    # both, for each size, each in a new database on BENCH_DATABASE_URL's server (dropped afterwards)
    python bench/scale.py run --scales 10000,100000
    python bench/scale.py run --smoke     # 300 cases, few runs: checks that it runs (tests/test_bench.py)

Generation prints its time and the database size; measure prints one table row per figure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import UTC, datetime

from common import ROOT, fresh_database
from figures import record

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _app(url: str):
    from app import create_app

    logging.getLogger("reclamations").setLevel(logging.WARNING)
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                       "WTF_CSRF_ENABLED": False, "LOG_LEVEL": "WARNING"})


def generate(url: str, cases: int) -> dict:
    """Fill an empty database with `cases` bulk cases; return {seconds, size, counts}."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import clock
    from app.cli.demo_bulk import generate as bulk
    from app.cli.demo_data import ensure_users
    from app.extensions import db
    from app.services.core.definitions import deploy_files

    app = _app(url)
    clock.set_now(NOW)
    with app.app_context():
        t0 = time.perf_counter()
        upgrade()
        deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "bench")
        ensure_users()
        step = max(1, cases // 20)
        bulk(cases, progress=lambda done: done % step < 2000 and log(f"{done} cases inserted"))
        log("rollup rebuilt, VACUUM ANALYZE")
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        seconds = time.perf_counter() - t0
        facts = _facts()
        db.session.remove()
        db.engine.dispose()
    clock.set_now(None)
    facts["generation seconds"] = round(seconds)
    log(f"generated: {facts}")
    return facts


def _facts() -> dict:
    from sqlalchemy import func, select, text

    from app.extensions import db
    from app.models import AuditEvent, Case, CaseRollup, TaskRow

    out = {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in
           (("cases", Case), ("task rows", TaskRow), ("audit events", AuditEvent), ("rollup rows", CaseRollup))}
    if db.engine.dialect.name == "postgresql":
        out["database size"] = db.session.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    return out


def step_cost(url: str, cases: int) -> dict[str, float]:
    """Median ms per step of `cases` complaint lifecycles through app.services.cases on the filled database (the
    same path as bench/overhead.py), so that the cost of a step can be compared across sizes."""
    from common import median_ms, service_lifecycles

    times = service_lifecycles(_app(url), cases)
    medians = {step: median_ms(values) for step, values in times.items()}
    medians["total"] = sum(medians.values())
    return medians


def measure(url: str, runs: int, requests: int, lifecycles: int) -> dict:
    """Every figure on a filled database: {name: value} (ms, or requests/s), printing the detailed tables."""
    import dashboard
    import task_list
    import throughput

    from app import clock

    out: dict = {}
    app = _app(url)
    with app.app_context():
        out.update(_facts())
        out["cases open"] = _open_cases()
    log(f"measuring {out}")
    clock.set_now(NOW)
    with app.app_context():
        from app.extensions import db
        from app.services.tasks import forecast

        forecast._CACHE.clear()
        t0 = time.perf_counter()
        forecast._medians(clock.now())  # what the first view after a closure pays (then cached)
        out["forecast medians, cold (ms)"] = round((time.perf_counter() - t0) * 1000)
        views = task_list.time_views(app, "PostgreSQL", runs)

        db.session.remove()
        db.engine.dispose()
    clock.set_now(None)
    print("| task list view | matching | service median ms | service p95 ms | page median ms | page p95 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for _, scenario, found, s_med, s_p95, p_med, p_p95 in views:
        print(f"| {scenario} | {found} | {s_med:.1f} | {s_p95:.1f} | {p_med:.1f} | {p_p95:.1f} |")
    print()
    worst = max(views, key=lambda v: v[6])
    out["task list page p95, worst view (ms)"] = round(worst[6], 1)
    out["task list page p95, worst view"] = worst[1]
    out["task list page median, Mon équipe (ms)"] = round(next(v[5] for v in views if v[1] == "Mon équipe"), 1)
    log("dashboard")
    board = dashboard.measure(url, None, runs)
    print()
    out["dashboard page median, 365 days (ms)"] = round(next(m for n, m, _ in board if "page), 365" in n))
    out["dashboard page median, 30 days (ms)"] = round(next(m for n, m, _ in board if "page), 30" in n))
    log("step cost")
    steps = step_cost(url, lifecycles)
    out["complaint lifecycle through the service, 6 steps (ms)"] = round(steps["total"], 1)
    out["one step, mean of the 6 (ms)"] = round(steps["total"] / 6, 1)
    log("request rates")
    rates = throughput.rates(url, requests)
    print(throughput.rates_table(rates, "Requests per second, one gunicorn sync worker"))
    for r in rates:
        out[r["what"].split(" (")[0] + " (req/s)"] = round(r["per_s"])
    log(f"measured {out}")
    size = next((s for s in (10_000, 100_000, 1_000_000) if 0.9 * s <= out["cases"] <= 1.1 * s), None)
    if size:  # the headline table of make bench (bench/figures.py)
        record(f"scale.{size}.task_list_p95", out["task list page p95, worst view (ms)"],
               note=out["task list page p95, worst view"])
        record(f"scale.{size}.dashboard_365", out["dashboard page median, 365 days (ms)"])
        record(f"scale.{size}.step_ms", out["one step, mean of the 6 (ms)"])
    return out


def _open_cases() -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Case

    return db.session.scalar(select(func.count()).select_from(Case).where(Case.closed_at.is_(None)))


def summary(rows: list[dict]) -> str:
    """One Markdown table: a column per size, a row per figure."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| figure | " + " | ".join(f"{r['cases']:,} cases" for r in rows) + " |",
             "|---|" + "---:|" * len(rows)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(str(r.get(name, "—")) for r in rows) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["generate", "measure", "run"])
    parser.add_argument("--database")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--scales", default="10000,100000")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per task list view and dashboard measure")
    parser.add_argument("--requests", type=int, default=400, help="requests per rate measure")
    parser.add_argument("--lifecycles", type=int, default=10, help="complaint lifecycles timed per size")
    parser.add_argument("--smoke", action="store_true", help="300 cases, few runs: checks that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.scales, args.runs, args.requests, args.lifecycles = "300", 1, 10, 1
    if args.action == "generate":
        generate(args.database, args.cases)
        return 0
    if args.action == "measure":
        print(summary([measure(args.database, args.runs, args.requests, args.lifecycles)]))
        return 0
    rows = []
    for size in [int(s) for s in args.scales.split(",")]:
        with fresh_database("postgresql") as url:
            facts = generate(url, size)
            rows.append({**facts, **measure(url, args.runs, args.requests, args.lifecycles)})
    print(f"### (7) Cost as the work grows, PostgreSQL (load average {os.getloadavg()[0]:.1f} at the end)\n")
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.exit(main())
