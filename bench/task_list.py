"""Task list latency with many open cases, on SQLite and PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/task_list.py [--rows 100000] [--history 20000] [--repeat 30] [--pg URL]

Generates N open cases and their ready task rows directly in the tables (bulk INSERT, no engine), plus closed
cases of the last 180 days (one completed task row each) so that the breach forecast has medians and flags some
open cases; then times what the task list page runs: the page query (50 rows), the tab counts and the forecast
markers of the page (task_list.task_page), for each tab and some filters, through the service and through the
full page (Flask test client, template included). PostgreSQL: --pg URL (or TEST_DATABASE_URL); a throw-away
database is created on that server and dropped. Prints a table with the method, the machine and median / p95
in milliseconds.
"""

import argparse
import logging
import os
import platform
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import g  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402

from app import clock, create_app  # noqa: E402
from app.config import normalize_db_url  # noqa: E402
from app.extensions import db  # noqa: E402

LANES = [("gestionnaire", 45), ("service", 25), ("responsable", 10), ("qualite", 10), ("accueil", 5), ("finance", 5)]
STEPS = {"gestionnaire": ("ut_qualify", "Qualifier la réclamation"),
         "service": ("ut_analyse", "Analyser la réclamation"),
         "responsable": ("ut_overdue", "Traiter le dépassement de délai"),
         "qualite": ("ut_capa", "Définir les actions correctives et préventives"),
         "accueil": ("ut_handle_feedback", "Traiter le retour"), "finance": ("ut_analyse", "Analyser le litige")}
CHANNELS = ["web", "email", "phone", "letter", "registered_letter", "counter"]
NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
         "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier"]
SCENARIOS = [  # (label, user, query string)
    ("Mes tâches", "gestionnaire", "onglet=mine"),
    ("Mon équipe", "gestionnaire", "onglet=group"),
    ("Toutes", "responsable", "onglet=all"),
    ("Toutes, en retard", "responsable", "onglet=all&retard=1"),
    ("Mon équipe, étape + canal", "gestionnaire", "onglet=group&etape=ut_qualify&canal=phone"),
    ("Toutes, recherche client", "responsable", "onglet=all&q=lef"),
    ("Toutes, recherche référence", "responsable", "onglet=all&q=REC-2026-0421"),
    ("Toutes, recherche client sans résultat", "responsable", "onglet=all&q=dupont"),  # the worst case: a scan
    ("Toutes, tri priorité, page 40", "responsable", "onglet=all&tri=priority&page=40"),
    ("Toutes, à risque", "responsable", "onglet=all&risque=1"),
]
# Days from entering the step to closure in the closed history (the forecast's medians). Qualification takes
# longer than the 15 days the open cases get, so the open cases waiting there and not yet late are at risk.
NOTES: list[str] = []
HISTORY_DAYS_TO_CLOSE = {"ut_qualify": 16, "ut_analyse": 12, "ut_overdue": 5, "ut_capa": 8, "ut_handle_feedback": 3}


def generate(rows: int, history: int = 0, seed: int = 7) -> None:
    """Insert `rows` open cases with one ready task each (20 % held by someone, 1 % by 'gestionnaire'), then
    `history` cases closed in the last 180 days with one completed task row each."""
    from app.models import Case, ProcessDefinition, TaskRow

    rng = random.Random(seed)
    definition = db.session.scalars(db.select(ProcessDefinition).where(ProcessDefinition.key == "reclamation")).one()
    now = clock.now()
    lanes = [lane for lane, weight in LANES for _ in range(weight)]
    batch = 5000
    for start in range(0, rows, batch):
        case_rows, task_rows = [], []
        for i in range(start, min(rows, start + batch)):
            lane = rng.choice(lanes)
            name = f"{rng.choice(NAMES)} {rng.choice(NAMES)} {i}"
            channel = rng.choice(CHANNELS)
            created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
            due = created + timedelta(days=15)
            reference = f"REC-2026-{i + 1:06d}"
            case_rows.append(dict(
                id=i + 1, reference=reference, process_key="reclamation", definition_id=definition.id, status="open",
                stage=STEPS[lane][1], completed=False, channel=channel, origin="external_customer", kind="complaint",
                customer_name=name, received_at=created, due_at=due, created_at=created, updated_at=created,
                created_by="bench", tracking_token=secrets.token_urlsafe(24), data={}, lock_version=1))
            roll = rng.random()
            assignee = "gestionnaire" if lane == "gestionnaire" and roll < 0.02 else (
                f"{lane}{rng.randint(2, 40)}" if roll < 0.2 else None)
            task_rows.append(dict(
                id=str(uuid.UUID(int=rng.getrandbits(128))), case_id=i + 1, case_reference=reference,
                process_key="reclamation", bpmn_id=STEPS[lane][0], name=STEPS[lane][1], lane=lane, state="ready",
                assignee=assignee, due_at=due, priority=rng.choice([0, 0, 1, 1, 2, 3]), customer_name=name,
                channel=channel, created_at=created))
        db.session.execute(insert(Case), case_rows)
        db.session.execute(insert(TaskRow), task_rows)
        db.session.commit()
    for start in range(rows, rows + history, batch):
        case_rows, task_rows = [], []
        for i in range(start, min(rows + history, start + batch)):
            lane = rng.choice(lanes)
            bpmn_id = STEPS[lane][0]
            closed = now - timedelta(minutes=rng.randint(60, 60 * 24 * 179))
            entered = closed - timedelta(days=HISTORY_DAYS_TO_CLOSE[bpmn_id] * rng.lognormvariate(0, 0.3))
            reference = f"REC-2025-{i + 1:06d}"
            case_rows.append(dict(
                id=i + 1, reference=reference, process_key="reclamation", definition_id=definition.id,
                status="closed", stage="", completed=True, channel=rng.choice(CHANNELS), origin="external_customer",
                kind="complaint", customer_name=f"{rng.choice(NAMES)} {i}", received_at=entered,
                due_at=entered + timedelta(days=15), closed_at=closed, created_at=entered, updated_at=closed,
                created_by="bench", tracking_token=secrets.token_urlsafe(24), data={}, lock_version=1))
            task_rows.append(dict(
                id=str(uuid.UUID(int=rng.getrandbits(128))), case_id=i + 1, case_reference=reference,
                process_key="reclamation", bpmn_id=bpmn_id, name=STEPS[lane][1], lane=lane, state="completed",
                assignee=None, due_at=entered + timedelta(days=15), priority=0, customer_name=None, channel=None,
                created_at=entered, completed_at=min(closed, entered + timedelta(days=1)), completed_by="bench"))
        db.session.execute(insert(Case), case_rows)
        db.session.execute(insert(TaskRow), task_rows)
        db.session.commit()
    # Fresh statistics and, on PostgreSQL, a vacuumed table (visibility map set), as a live database has after
    # autovacuum; without it autovacuum starts in the middle of the timings.
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up (caches, first parse of templates)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]


def run_backend(label: str, url: str, rows: int, history: int, repeat: int) -> list[tuple]:
    from app.services.core.definitions import deploy_files
    from app.services.people.users import create_user

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False})
    logging.getLogger("reclamations.access").setLevel(logging.WARNING)  # one JSON line per request otherwise
    with app.app_context():
        db.create_all()
        for name in ("gestionnaire", "responsable"):
            create_user(name, "demo", [name])
        deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "bench")
        t0 = time.perf_counter()
        generate(rows, history)
        print(f"{label}: {rows} open + {history} closed cases generated in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        results = time_views(app, label, repeat)
        db.session.remove()
        db.engine.dispose()
    return results


def time_views(app, label: str, repeat: int) -> list[tuple]:
    """Time each scenario through the service and the page, in the app's context (users gestionnaire and
    responsable, password demo, must exist): [(label, scenario, matching, service median, p95, page median, p95)]."""
    from app.models import User
    from app.services.tasks import forecast, task_list
    from app.tasks.forms import PER_PAGE, list_args

    results = []
    forecast._CACHE.clear()
    t0 = time.perf_counter()
    forecast._medians(clock.now())  # what the first page after a closure or every 10 minutes pays
    NOTES.append(f"{label}: forecast medians computed cold in {(time.perf_counter() - t0) * 1000:.0f} ms "
                 f"(then cached)")
    people = {u.username: u for u in db.session.scalars(db.select(User))}
    clients = {}
    for name in people:
        client = app.test_client()
        client.post("/login", data={"username": name, "password": "demo"})
        clients[name] = client
    for scenario, username, query in SCENARIOS:
        from werkzeug.datastructures import MultiDict

        args = MultiDict([tuple(p.split("=", 1)) for p in query.split("&")])
        scope, filters, page, _ = list_args(args, "mine")
        user = people[username]

        def service(user=user, scope=scope, filters=filters, page=page):
            task_list.task_page(user, scope, filters, page, PER_PAGE)
            db.session.rollback()

        def page_get(client=clients[username], query=query, username=username):
            # Requests share the bench's app context: drop the user Flask-Login cached on g by the previous
            # request, or every page would be the last signed-in user's (tests/pages.py does the same).
            g.pop("_login_user", None)
            resp = client.get(f"/taches/?{query}")
            assert resp.status_code == 200, resp.status_code
            # the name shown is the full name when there is one ("Démo gestionnaire" in the demo data)
            assert re.search(f'<span class="who">[^<]*{username}</span>', resp.get_data(as_text=True)), "wrong user"

        found = task_list.count_tasks(user, scope, filters)  # exact, unlike the page's counts
        s_med, s_p95 = timed(service, repeat)
        p_med, p_p95 = timed(page_get, repeat)
        results.append((label, scenario, found, s_med, s_p95, p_med, p_p95))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=20_000, help="closed cases of the last 180 days")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check that it runs (tests/test_bench.py)")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.history, args.repeat = 1500, 300, 1
    from datetime import UTC, datetime

    clock.set_now(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            results += run_backend("SQLite", f"sqlite:///{tmp}/bench.db", args.rows, args.history, args.repeat)
    if args.pg:
        server = normalize_db_url(args.pg)
        name = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            results += run_backend("PostgreSQL", server.rsplit("/", 1)[0] + "/" + name, args.rows, args.history,
                                   args.repeat)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"Task list with {args.rows} open cases (one ready task each) and {args.history} closed ones; "
          f"{args.repeat} runs after a warm-up; "
          f"machine: {platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}, "
          f"{platform.platform()}")
    print("service = task_list.task_page (50 rows, tab counts, forecast markers); "
          "page = GET /taches/ through Flask (service + template)")
    print()
    print("| backend | view | matching | service median ms | service p95 ms | page median ms | page p95 ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, scenario, found, s_med, s_p95, p_med, p_p95 in results:
        print(f"| {label} | {scenario} | {found} | {s_med:.1f} | {s_p95:.1f} | {p_med:.1f} | {p_p95:.1f} |")
    print()
    for note in NOTES:
        print(note)


if __name__ == "__main__":
    main()
