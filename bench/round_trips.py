"""Round trips to PostgreSQL per request: a task completion and the task list page, counted from libpq's trace.

A fresh database on the server of BENCH_DATABASE_URL (or TEST_DATABASE_URL), the processes deployed, cases
started through the API; then, through the Flask test client (the same statements as under gunicorn),
`POST /api/tasks/<id>/complete` (the qualification) and `GET /taches/?onglet=group` signed in as *service*
(the analysed cases in its team tab), each counted by `connections.RoundTrips` after a warm-up request.

    PYTHONPATH=. .venv/bin/python bench/round_trips.py [--cases 20] [--verbose]
"""

from __future__ import annotations

import argparse

from common import COMPLAINT, LIFECYCLE, fresh_database, prepare, table


def measure(cases: int, verbose: bool, warmups: int = 1) -> str:
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
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    out = table("Round trips to PostgreSQL per request (libpq trace)", ["request", "min of 3", "max of 3"], rows)
    return out + ("\n" + "\n".join(details) + "\n" if verbose else "")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--warmups", type=int, default=1,
                        help="requests of each kind before the counted ones (psycopg prepares a statement at its 5th)")
    parser.add_argument("--verbose", action="store_true", help="print the messages of the last request of each kind")
    args = parser.parse_args()
    print(measure(args.cases + args.warmups, args.verbose, args.warmups))
