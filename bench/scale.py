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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["generate", "measure", "run"])
    parser.add_argument("--database")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--scales", default="10000,100000")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.action == "generate":
        generate(args.database, args.cases)
        return 0
    raise SystemExit("not yet")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.exit(main())
