"""Round trips to PostgreSQL per request: a task completion and the task list page, counted from libpq's trace.

A fresh database on the server of BENCH_DATABASE_URL (or TEST_DATABASE_URL), the processes deployed, cases
started through the API; then, through the Flask test client (the same statements as under gunicorn),
`POST /api/tasks/<id>/complete` (the qualification) and `GET /taches/?onglet=group` signed in as *service*
(the analysed cases in its team tab), each counted by `connections.RoundTrips` after a warm-up request.

    PYTHONPATH=. .venv/bin/python bench/round_trips.py [--cases 20] [--verbose] [--timed 200]

`--timed N`: then N more requests of each kind (no trace, the pool's connection kept, so psycopg prepares the
hot statements as in a long-running worker), in rounds of 50: per request, the wall time, the CPU time of this
process (Flask, SQLAlchemy, psycopg) and that of the PostgreSQL backends serving it (read from /proc: same
machine), medians of the rounds. CPU per request is the figure least moved by other jobs on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import COMPLAINT, LIFECYCLE, fresh_database, prepare, table

ROUND = 50  # requests per timed round (the backend's CPU is counted in clock ticks: 10 ms)


def _more_cases(client, tokens, count: int) -> list[str]:
    ready = []
    for _ in range(count):
        case = client.post("/api/cases", json={"process": "reclamation", "data": COMPLAINT},
                           headers={"Authorization": f"Bearer {tokens['accueil']}"}).get_json()
        ready.append(next(t["id"] for t in case["tasks"] if t["bpmn_id"] == "ut_qualify"))
    return ready


def _backend_cpu(engine) -> float:
    """CPU seconds used so far by the backends of the pool's connections (this database's, other than admin)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        total = 0
        for pid in pids:
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _timed(engine, request, count: int) -> list[float]:
    walls, cpus, backends = [], [], []
    for _ in range(max(1, count // ROUND)):
        b0, c0, w0 = _backend_cpu(engine), time.process_time(), time.perf_counter()
        for _ in range(ROUND):
            request()
        w1, c1 = time.perf_counter(), time.process_time()
        b1 = _backend_cpu(engine)
        walls.append((w1 - w0) / ROUND)
        cpus.append((c1 - c0) / ROUND)
        backends.append((b1 - b0) / ROUND)
    return [statistics.median(v) * 1000 for v in (walls, cpus, backends)]


def measure(cases: int, verbose: bool, warmups: int = 1, timed: int = 0) -> str:
    with fresh_database("postgresql") as url:
        app = prepare(url)
        app.config.update(WTF_CSRF_ENABLED=False)
        from app.extensions import db
        from app.services.core.connections import RoundTrips

        with app.app_context():
            engine = db.engine
        client = app.test_client()

        def token(user):
            return client.post("/api/login", json={"username": user, "password": "demo"}).get_json()["token"]

        tokens = {u: token(u) for u in ("accueil", "gestionnaire")}
        ready = []
        for _ in range(cases):
            case = client.post("/api/cases", json={"process": "reclamation", "data": COMPLAINT},
                               headers={"Authorization": f"Bearer {tokens['accueil']}"}).get_json()
            ready.append(next(t["id"] for t in case["tasks"] if t["bpmn_id"] == "ut_qualify"))

        def complete(task_id):
            resp = client.post(f"/api/tasks/{task_id}/complete", json={"data": LIFECYCLE[0][2]},
                               headers={"Authorization": f"Bearer {tokens['gestionnaire']}"})
            assert resp.status_code == 200, resp.get_json()

        pages = app.test_client()
        resp = pages.post("/login", data={"username": "service", "password": "demo"})
        assert resp.status_code == 302, resp.status_code

        def task_list():
            resp = pages.get("/taches/?onglet=group")
            assert resp.status_code == 200 and 'name="task_ids"' in resp.get_data(as_text=True)

        rows, details = [], []
        for what, warm, counted in (
                ("POST /api/tasks/<id>/complete (qualification)", lambda: complete(ready.pop()),
                 lambda: complete(ready.pop())),
                ("GET /taches/?onglet=group (team tab)", task_list, task_list)):
            for _ in range(warmups):
                warm()
            counts = []
            for _ in range(3):
                with RoundTrips(engine) as trips:  # each request pushes its own app context, ended in it
                    with engine.connect() as conn:  # a pooled connection used once (a pre-ping skips new ones)
                        conn.exec_driver_sql("SELECT 1")
                    trips.reset()
                    counted()
                counts.append(trips.count)
            rows.append([what, min(counts), max(counts)])
            details.append(f"{what}:\n  " + "\n  ".join(trips.messages))
        timed_rows = []
        if timed:
            ready.extend(_more_cases(client, tokens, timed))
            for what, request in (("POST /api/tasks/<id>/complete (qualification)", lambda: complete(ready.pop())),
                                  ("GET /taches/?onglet=group (team tab)", task_list)):
                timed_rows.append([what, *_timed(engine, request, timed)])
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if timed_rows:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
        out = table(f"Cost per request, medians of rounds of {ROUND} (load average at the end: {load})",
                    ["request", "wall ms", "CPU ms, this process", "CPU ms, PostgreSQL backend"], timed_rows)
    else:
        out = ""
    out = out + table("Round trips to PostgreSQL per request (libpq trace)", ["request", "min of 3", "max of 3"], rows)
    return out + ("\n" + "\n".join(details) + "\n" if verbose else "")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=8, help="cases started (at least 3: the counted completions)")
    parser.add_argument("--warmups", type=int, default=1,
                        help="requests of each kind before the counted ones (psycopg prepares a statement at its 5th)")
    parser.add_argument("--timed", type=int, default=0, help="then time this many requests of each kind")
    parser.add_argument("--smoke", action="store_true", help="a handful of requests, to check that it runs")
    parser.add_argument("--verbose", action="store_true", help="print the messages of the last request of each kind")
    args = parser.parse_args()
    if args.smoke:
        args.cases, args.warmups, args.timed = 3, 1, 0  # the 3 counted requests need their cases
    print(measure(args.cases + args.warmups, args.verbose, args.warmups, args.timed))
