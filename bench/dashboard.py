"""Dashboard and indicator latency with many cases, on SQLite and PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/dashboard.py [--cases 100000] [--runs 15] [--database URL] [--smoke]

Without --database: a SQLite file in the temp folder (kept, and reused when it already holds the cases), then,
when BENCH_DATABASE_URL or TEST_DATABASE_URL names a PostgreSQL server, a new database on it (dropped after).
With --database URL: that database only; it is emptied and filled first unless it already holds the cases.
Data: app/cli/demo_bulk.py (cases over the last 365 days, tasks, audit events, then the rollup rebuilt).
Method: the clock is frozen at the generation time; each measure runs once to warm caches, then --runs times;
the table gives the median and the 95th percentile of wall-clock time. --smoke: 400 cases, 1 run.
"""

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite in /tmp, then PostgreSQL)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--refill", action="store_true",
                        help="with --database: empty it and generate --cases cases when it holds another number "
                             "(without it, a filled database is measured as it is: it may be a million cases)")
    parser.add_argument("--smoke", action="store_true", help="400 cases, one run: checks that it still runs")
    args = parser.parse_args()
    if args.smoke:
        args.cases, args.runs = 400, 1
    if args.database:
        measure(args.database, args.cases, args.runs, refill=args.refill)
        return
    # The generated file is kept between runs, one per size and schema revision (a new column needs a new file).
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(Path(__file__).resolve().parents[1] / "app" / "migrations")).get_current_head()
    measure(f"sqlite:///{Path(tempfile.gettempdir()) / f'bench-dashboard-{args.cases}-{head}.db'}", args.cases,
            args.runs)
    if os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"):
        from common import fresh_database

        with fresh_database("postgresql") as url:
            measure(url, args.cases, args.runs)


def measure(url: str, cases: int | None, runs: int, refill: bool = True) -> list[tuple]:
    """Fill the database at url if needed (cases None: take it as it is; a filled database holding another number
    of cases is emptied and refilled only with refill), print the latency table and return
    [(measure, median ms, p95 ms)]."""

    from sqlalchemy import func, select, text

    from app import clock, create_app
    from app.cli.demo_bulk import generate
    from app.cli.demo_data import ensure_users
    from app.config import normalize_db_url
    from app.extensions import db
    from app.models import AuditEvent, Case, TaskRow
    from app.services.core.definitions import deploy_files
    from app.services.indicators import figures as indicators
    from app.services.tasks import forecast

    url = normalize_db_url(url)
    logging.getLogger("reclamations.access").setLevel(logging.WARNING)  # one log line per request otherwise
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False})
    clock.set_now(NOW)
    with app.app_context():
        db.create_all()
        have = db.session.scalar(select(func.count()).select_from(Case)) or 0
        if cases is not None and have != cases and not (have and not refill):
            if have:
                names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
                db.session.remove()
                if db.engine.dialect.name == "postgresql":
                    with db.engine.begin() as conn:
                        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                else:
                    db.drop_all()
                    db.create_all()
            deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "bench")
            ensure_users()
            started = time.perf_counter()
            generate(cases)
            print(f"generated {cases} cases in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
            else:
                db.session.execute(text("ANALYZE"))
                db.session.commit()
        counts = {"cases": db.session.scalar(select(func.count()).select_from(Case)),
                  "tasks": db.session.scalar(select(func.count()).select_from(TaskRow)),
                  "audit events": db.session.scalar(select(func.count()).select_from(AuditEvent))}
        dialect = db.engine.dialect.name
        server = db.session.scalar(text("SELECT version()" if dialect == "postgresql" else "SELECT sqlite_version()"))
        open_ids = list(db.session.scalars(select(Case.id).where(Case.closed_at.is_(None)).limit(50)))

    client = app.test_client()
    resp = client.post("/login", data={"username": "qualite", "password": "demo"})
    assert resp.status_code in (302, 303), resp.status_code

    def in_app(fn):
        def run():
            with app.app_context():
                fn()
                db.session.remove()
        return run

    def page(url):
        def run():
            resp = client.get(url)
            assert resp.status_code == 200, (url, resp.status_code)
        return run

    month = {"from": "2026-10-25", "to": "2026-11-23"}
    year = {"from": "2025-11-24", "to": "2026-11-23"}
    measures = [
        ("indicators.compute, 30 days", in_app(lambda: indicators.compute(indicators.parse_filters(month)))),
        ("indicators.compute, 365 days", in_app(lambda: indicators.compute(indicators.parse_filters(year)))),
        ("indicators.compute, 365 days, category=billing", in_app(
            lambda: indicators.compute(indicators.parse_filters({**year, "category": "billing"})))),
        ("GET /reports/ (dashboard page), 30 days", page("/reports/?from=2026-10-25&to=2026-11-23")),
        ("GET /reports/ (dashboard page), 365 days", page("/reports/?from=2025-11-24&to=2026-11-23")),
        ("GET /reports/indicators.csv, 365 days", page("/reports/indicators.csv?from=2025-11-24&to=2026-11-23")),
        ("forecast_for_cases(50 open cases)", in_app(lambda: forecast.forecast_for_cases(open_ids))),
    ]
    results = []
    for name, fn in measures:
        fn()  # warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        results.append((name, statistics.median(times), p95(times)))

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    print(f"database: {dialect} {str(server).split(' on ')[0]}; " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print(f"method: 1 warm-up then {runs} runs per measure, wall clock, in-process (Flask test client)")
    print(f"| {'measure':<50} | median ms | p95 ms |")
    print(f"|{'-' * 52}|-----------|--------|")
    for name, median, high in results:
        print(f"| {name:<50} | {median:9.0f} | {high:6.0f} |")
    clock.set_now(None)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


if __name__ == "__main__":
    main()
