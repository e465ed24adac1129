"""Timer worker throughput: N due dispute timers fired by 1, 2 and 4 concurrent workers (threads).

Usage: PYTHONPATH=. python bench/timers.py [--cases 200] [--database-url postgresql://...]
Without --database-url a temporary SQLite file is used. Prints a table with the method and the machine.
"""

import argparse
import os
import platform
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text

from app import clock, create_app
from app.config import normalize_db_url
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def prepare(app, count: int) -> None:
    from app.models import AuditEvent
    from app.services.cases.lifecycle import create_case
    from app.services.core.definitions import deploy_files

    with app.app_context():
        db.drop_all()
        db.create_all()
        deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "bench")
        clock.set_now(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        for n in range(count):
            create_case("bench", "litige", {"customer_name": f"Client {n}", "invoice_refs": f"FA-{n}",
                                            "blocked_amount": 100.0, "block_reason": "bench"})
            db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) > 0
        clock.set_now(datetime(2026, 12, 25, 9, 0, tzinfo=UTC))  # every escalation timer is due


def run(app, workers: int) -> tuple[float, int]:
    from app.services.cases.lifecycle import fire_due_timers

    fired, barrier = [], threading.Barrier(workers)

    def worker():
        with app.app_context():
            barrier.wait()
            while True:
                batch = fire_due_timers(limit=20)
                fired.extend(batch)
                if not batch:
                    break
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, len(fired)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    url = normalize_db_url(args.database_url) if args.database_url else \
        f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    rows = []
    for workers in (1, 2, 4):
        prepare(app, args.cases)
        seconds, fired = run(app, workers)
        with app.app_context():
            twice = db.session.execute(text(
                "SELECT count(*) FROM (SELECT case_id FROM audit_event WHERE type = 'timer_fired' "
                "GROUP BY case_id HAVING count(*) > 1) AS t")).scalar()
        rows.append((workers, fired, seconds, fired / seconds, twice))
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPU, Python {platform.python_version()}")
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1].split('?')[0]}")
    print(f"method: {args.cases} litige cases with a due escalation timer; N threads each loop "
          "fire_due_timers(limit=20) until nothing is due; wall time of the whole drain")
    print(f"{'workers':>8} {'fired':>6} {'seconds':>8} {'timers/s':>9} {'fired twice':>12}")
    for workers, fired, seconds, rate, twice in rows:
        print(f"{workers:>8} {fired:>6} {seconds:>8.2f} {rate:>9.1f} {twice:>12}")
    print(f"median timers/s: {statistics.median(r[3] for r in rows):.1f}")


if __name__ == "__main__":
    main()
