"""Shared by the bench scripts: the machine description, fresh databases, the complaint lifecycle, tables."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMPLAINT = {"channel": "letter", "origin": "external_customer", "kind": "complaint",
             "customer_name": "Martine Lefèvre", "customer_email": "martine@example.fr",
             "description": "Frais de livraison facturés deux fois.", "amount": 42.5, "written": "yes",
             "invoice_refs": "FA-2026-1182"}
# The complaint's happy path after the start: (BPMN element, group that completes it, form data).
LIFECYCLE = [
    ("ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high"}),
    ("ut_analyse", "service", {"facts": "Frais facturés deux fois.", "systemic": "no", "needs_information": "no"}),
    ("ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Nous vous remboursons."}),
    ("ut_reaction", "gestionnaire", {"reaction": "satisfied", "reaction_on": "2026-11-25", "payment_blocked": "no"}),
    ("ut_survey", "gestionnaire", {"satisfaction_score": 4}),
]
GROUPS = ("accueil", "gestionnaire", "service", "admin")


def machine() -> dict:
    """nproc, CPU model, RAM, Python and PostgreSQL versions."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    try:
        pg = subprocess.run(["pg_config", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pg = "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "python": platform.python_version(), "postgresql": pg}


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def p95_ms(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] * 1000


@contextmanager
def fresh_database(backend: str):
    """A URL to an empty database: a temporary SQLite file, or a new database on the PostgreSQL server
    named by BENCH_DATABASE_URL or TEST_DATABASE_URL (dropped afterwards)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    from sqlalchemy import create_engine, text

    from app.config import normalize_db_url

    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not server:
        raise RuntimeError("PostgreSQL: set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a server URL")
    server = normalize_db_url(server)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str):
    """Create the schema by the migrations, deploy processes/, add one user per group (password 'demo')."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services.core.definitions import deploy_files
    from app.services.people.users import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                      "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "bench")
        for group in GROUPS:
            create_user(group, "demo", [group], commit=False)
        db.session.commit()
    return app


def table(title: str, header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(f"{c:.2f}" if isinstance(c, float) else str(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def service_lifecycles(app, cases: int) -> dict[str, list[float]]:
    """Seconds per step of `cases` complaint lifecycles through app.services.cases (validation, engine,
    persistence, one commit per step) on the app's database: {"start": [...], bpmn_id: [...]}."""
    import time

    from app.extensions import db
    from app.services.cases import lifecycle as case_service
    from app.services.people.users import by_username
    from app.services.tasks import actions as tasks

    times: dict[str, list[float]] = {"start": [], **{b: [] for b, _, _ in LIFECYCLE}}
    with app.app_context():
        users = {g: by_username(g) for g in ("accueil", "gestionnaire", "service")}
        for _ in range(cases):
            t0 = time.perf_counter()
            case = case_service.start_case(users["accueil"], "reclamation", dict(COMPLAINT))
            times["start"].append(time.perf_counter() - t0)
            for bpmn_id, group, data in LIFECYCLE:
                row = next(r for r in tasks.ready_for_case(case.id) if r.bpmn_id == bpmn_id)
                t0 = time.perf_counter()
                case = case_service.complete_task(users[group], row.id, dict(data))
                times[bpmn_id].append(time.perf_counter() - t0)
            assert case.completed, "the service run did not finish"
        db.session.remove()
        db.engine.dispose()
    return times
