"""Benchmark: the cost of the audit's tamper evidence on SQLite and PostgreSQL.

Method: (1) the page check (`checkpoints.chain_status`: a case's keyed chain checked against the latest signed
checkpoint, what every case, task and audit page does) on one complaint driven through the services until its
log holds N events (100, then 1,000), R runs after one warm-up; (2) a signed checkpoint (`checkpoints.create`:
heads of every chain, Merkle root, Ed25519 signature, file written) and the full `audit verify` over C bulk
cases (`flask demo --bulk`, ~15 events each). Prints medians in milliseconds, the checkpoint file size and
the machine.

    PYTHONPATH=. python bench/audit_chain.py [--runs 20] [--cases 2000] [--pg postgresql://user@host:port/db]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import clock, create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.replay import START, _machine, _pg_database, build_case  # noqa: E402


def _timed(fn, runs: int) -> list[float]:
    fn()
    found = []
    for _ in range(runs):
        db.session.expire_all()
        began = time.perf_counter()
        fn()
        found.append((time.perf_counter() - began) * 1000)
    return found


def measure(url: str, runs: int, cases: int, tmp: str) -> dict:
    from app.cli.demo_bulk import generate
    from app.cli.demo_data import ensure_users
    from app.services.audit import checkpoints

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True,
                      "AUDIT_KEY_DIR": f"{tmp}/keys", "AUDIT_CHECKPOINT_DIR": f"{tmp}/checkpoints"})
    clock.set_now(START)
    found = {}
    try:
        with app.app_context():
            db.create_all()
            reference = build_case(100)
            for events in (100, 1000):
                _grow(reference, events)
                checkpoints.create("bench")
                status = checkpoints.chain_status(reference)
                assert status.ok, status.problems[:3]
                found[f"page_{events}"] = _timed(lambda ref=reference: checkpoints.chain_status(ref), runs)
            ensure_users()
            generate(cases)
            began = time.perf_counter()
            document = checkpoints.create("bench")
            found["checkpoint"] = (time.perf_counter() - began) * 1000
            found["chains"] = document["header"]["chains"]
            found["size"] = checkpoints.files()[-1].stat().st_size
            began = time.perf_counter()
            problems = checkpoints.verify_chains()
            found["verify"] = (time.perf_counter() - began) * 1000
            assert problems == [], problems[:3]
            from app.models import AuditEvent

            found["events"] = db.session.query(AuditEvent).count()
            db.session.remove()
            db.engine.dispose()
    finally:
        clock.set_now(None)
    return found


def _grow(reference: str, events: int) -> str:
    """Add claim/release pairs to the case until its log holds `events` events."""
    from app.models import Case, User
    from app.services.core import audit
    from app.services.tasks import actions as tasks

    case = db.session.query(Case).filter_by(reference=reference).one()
    while audit.count_for(case.id) < events:
        row = tasks.ready_for_case(case.id)[0]
        user = db.session.query(User).filter_by(username=row.lane).one()
        tasks.claim(user, row.id)
        tasks.unclaim(user, row.id)
    return reference


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    rows = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            if backend == "sqlite":
                rows.append(("SQLite", measure(f"sqlite:///{tmp}/bench.db", args.runs, args.cases, tmp)))
            elif args.pg:
                url, drop = _pg_database(args.pg)
                try:
                    rows.append(("PostgreSQL", measure(url, args.runs, args.cases, tmp)))
                finally:
                    drop()
            else:
                print("PostgreSQL: skipped (no --pg, BENCH_DATABASE_URL or TEST_DATABASE_URL)")
    print(f"Audit tamper-evidence benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {_machine()}")
    print(f"Method: page check = chain_status (keyed hashes + links + checkpoint anchor), median of {args.runs} "
          f"runs after a warm-up; checkpoint and full verify over the bulk cases, one run; times in ms")
    print("| backend | page check, 100 events | page check, 1,000 events | chains | events | checkpoint | "
          "file | full verify |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {statistics.median(r['page_100']):.1f} | {statistics.median(r['page_1000']):.1f} | "
              f"{r['chains']} | {r['events']} | {r['checkpoint']:.0f} | {r['size'] / 1024:.0f} KiB | "
              f"{r['verify']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
