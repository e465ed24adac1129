"""Benchmark: how long replaying a 100-event case takes, on SQLite and PostgreSQL.

Method: a complaint of processes/reclamation.bpmn is driven through the service layer (claims, completions,
a re-examination loop) until its audit log holds at least N events; then the state after event N is rebuilt
by replay (`replay.state_at`: events read from the database, start on the pinned version, every input
replayed, handlers without effects) R times, and the full verification (hash chain + replay + comparison
with the stored rows and workflow) R times. The first run (spec parsing) is excluded. Prints the median,
min and max in milliseconds, with the machine.

    PYTHONPATH=. python bench/replay.py [--events 100] [--runs 20] [--pg postgresql://user@host:port/db]

PostgreSQL: give a server URL (--pg, or BENCH_DATABASE_URL / TEST_DATABASE_URL); the benchmark creates a
temporary database on that server and drops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from app import clock, create_app  # noqa: E402
from app.config import normalize_db_url  # noqa: E402
from app.extensions import db  # noqa: E402

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"}


def _machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu or platform.machine()}, {os.cpu_count()} CPU, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def build_case(events: int) -> str:
    """Drive one complaint through the services until its log holds at least `events` events."""
    from app.models import User
    from app.services.cases import lifecycle as cases
    from app.services.core import audit
    from app.services.core.definitions import deploy_files
    from app.services.people.users import create_user
    from app.services.tasks import actions as tasks

    for name in ("accueil", "gestionnaire", "service"):
        create_user(name, "bench-password", [name], commit=False)
    db.session.commit()
    deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "bench")
    users = {u.username: u for u in db.session.query(User)}
    data = {"channel": "letter", "origin": "external_customer", "kind": "complaint", "customer_name": "Bench",
            "customer_email": "bench@example.fr", "description": "Benchmark.", "written": "yes"}
    case = cases.start_case(users["accueil"], "reclamation", data)

    def complete(bpmn_id: str, user: str, values: dict) -> None:
        row = next(r for r in tasks.ready_for_case(case.id) if r.bpmn_id == bpmn_id)
        tasks.claim(users[user], row.id)
        cases.complete_task(users[user], row.id, values)

    complete("ut_qualify", "gestionnaire", QUALIFY)
    while audit.count_for(case.id) < events:
        clock.advance(days=1)
        complete("ut_analyse", "service", {"facts": "Constaté.", "systemic": "no", "needs_information": "no"})
        complete("ut_decide", "gestionnaire", {"decision": "rejected", "response_text": "Maintenu."})
        complete("ut_reaction", "gestionnaire", {"reaction": "contests", "payment_blocked": "no",
                                                 "reaction_on": clock.now().date().isoformat()})
    return case.reference


def measure(url: str, events: int, runs: int) -> dict:
    """Build the case on a fresh database at `url`, then time replay and verification."""
    from app.models import Case
    from app.services.audit.replay import state_at
    from app.services.audit.verification import verify_case
    from app.services.core import audit

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    clock.set_now(START)
    try:
        with app.app_context():
            db.create_all()
            reference = build_case(events)
            case = db.session.query(Case).filter_by(reference=reference).one()
            total = audit.count_for(case.id)
            state_at(reference, events)  # warm-up: parses and caches the spec
            replay_ms, verify_ms = [], []
            for _ in range(runs):
                db.session.expire_all()
                began = time.perf_counter()
                state = state_at(reference, events)
                replay_ms.append((time.perf_counter() - began) * 1000)
            for _ in range(runs):
                db.session.expire_all()
                began = time.perf_counter()
                problems = verify_case(case)
                verify_ms.append((time.perf_counter() - began) * 1000)
            if problems:
                raise SystemExit(f"verification found differences: {problems[:3]}")
            db.session.remove()
            db.engine.dispose()
    finally:
        clock.set_now(None)
    return {"reference": reference, "events": events, "log": total, "seq": state.seq,
            "replay": replay_ms, "verify": verify_ms}


def _pg_database(server: str):
    """Create a temporary database on the server; return its URL and a function that drops it."""
    server = normalize_db_url(server)
    name = f"bench_replay_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.rsplit("/", 1)[0] + "/" + name, drop


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    rows = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(("SQLite", measure(f"sqlite:///{tmp}/bench.db", args.events, args.runs)))
        elif backend == "postgresql":
            if not args.pg:
                print("PostgreSQL: skipped (no --pg, BENCH_DATABASE_URL or TEST_DATABASE_URL)")
                continue
            url, drop = _pg_database(args.pg)
            try:
                rows.append(("PostgreSQL", measure(url, args.events, args.runs)))
            finally:
                drop()
    print(f"Replay benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {_machine()}")
    print(f"Method: state after event N rebuilt by replay (state_at) and full verification (verify_case), "
          f"{args.runs} runs each after one warm-up; times in ms")
    print("| backend | events replayed | replay median | min | max | verification median | min | max |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['seq']} (log {r['log']}) | {statistics.median(r['replay']):.1f} | "
              f"{min(r['replay']):.1f} | {max(r['replay']):.1f} | {statistics.median(r['verify']):.1f} | "
              f"{min(r['verify']):.1f} | {max(r['verify']):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
