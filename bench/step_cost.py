"""Cost of one step of a long-lived case, through the service, as the case loops (issue 9).

Run: PYTHONPATH=. python bench/step_cost.py [--db sqlite|postgresql://...] [--passes 1000] [--complaints 20]

Method: a fresh database (a temporary SQLite file, or a database created for the run on the given
PostgreSQL server and dropped after it) gets the test process `boucle` (tests/bpmn/loop.bpmn: one user task
in a loop). One case is driven through `cases.complete_task` for every pass, each step in a new session
like a request: load the state, complete the task, run the engine, compact, save the state, the case
columns, the task rows and the audit events, commit. The figure at pass p is the median of the steps in a
window around p (`--window`, default 9). The same loop is then run with compaction switched off (the raw
SpiffWorkflow behaviour) up to `--raw-passes`, and the engine alone (deserialize, complete and run,
serialize; no database) with and without compaction.

Against the physical floor (bench/floor.py): before every service step, the engine alone from the same stored
state and the floor's Core transaction (on a case of its own) are run, so that on a shared machine a step and
its floor see the same load; service / floor is the median of the per-step ratios, in wall time and in CPU
time of this process. The SQL statements of each step are counted by the engine's before_cursor_execute
event. The same is then done step by step for `--complaints` complaint cases (processes/reclamation.bpmn).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import backend_of, record  # noqa: E402
from floor import CoreFloor, StatementCounter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOOP = ROOT / "tests" / "bpmn" / "loop.bpmn"
CHECKPOINTS = (5, 200, 500, 1000)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s) (nproc), {cpu}, Python {platform.python_version()}, {platform.system()}"


def checkpoints(passes: int) -> list[int]:
    return sorted({p for p in CHECKPOINTS if p <= passes} | {passes})


def window(samples: dict[int, float], at: int, width: int) -> float | None:
    half = width // 2
    values = [samples[p] for p in range(at - half, at + half + 1) if p in samples]
    return statistics.median(values) if values else None


class Database:
    """A scratch database for the run: a temporary SQLite file or a new PostgreSQL database."""

    def __init__(self, spec: str):
        self.spec = spec
        self.admin_url = None
        if spec == "sqlite":
            self.tmp = tempfile.TemporaryDirectory()
            self.url = f"sqlite:///{Path(self.tmp.name) / 'bench.db'}"
            self.label = f"SQLite {sqlite3.sqlite_version}"
            return
        from app.config import normalize_db_url

        base = make_url(normalize_db_url(spec))
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin_url = base
        with self._admin() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            version = conn.execute(text("SHOW server_version")).scalar()
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        self.label = f"PostgreSQL {version}"

    def _admin(self):
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        return engine.connect()

    def close(self) -> None:
        if self.admin_url is None:
            self.tmp.cleanup()
            return
        with self._admin() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def engine_once(pspec, state: str, values: dict, context=None, bpmn_id: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of the engine alone for one step from a stored state: deserialize, complete, run,
    serialize."""
    from app.engine import CaseWorkflow, StepContext

    start, cpu = time.perf_counter(), time.process_time()
    workflow = CaseWorkflow.load(pspec, state, (context or StepContext)())
    ready = workflow.ready_tasks()
    task = next(t for t in ready if t.bpmn_id == bpmn_id) if bpmn_id else ready[0]
    workflow.complete(task.id, dict(values))
    workflow.dump()
    return time.perf_counter() - start, time.process_time() - cpu


def service_run(url: str, passes: int, compaction: bool, with_floor: bool = True) -> dict:
    """Drive one `boucle` case through the service. Returns, by pass: "times" (s), "sizes" (state bytes),
    "statements" (SQL per step), and with the floor "engine" and "core": the engine alone from the same stored
    state and the floor's Core transaction (bench/floor.py, on a second case), both run just before the step;
    and "stopped" (why the loop ended early, or None)."""
    from app import create_app
    from app.engine import CaseWorkflow
    from app.extensions import db
    from app.models import WorkflowState
    from app.services.cases import lifecycle as cases
    from app.services.core import definitions
    from app.services.people.users import by_username, create_user
    from app.services.tasks.actions import ready_for_case

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False,
                      "RATELIMIT_ENABLED": False})
    CaseWorkflow.compaction = compaction
    out = {"times": {}, "sizes": {}, "statements": {}, "engine": {}, "core": {}, "cpu": {}, "floor_cpu": {},
           "stopped": None}
    try:
        with app.app_context():
            counter = StatementCounter(db.engine)
            db.create_all()
            if by_username("gestionnaire") is None:
                create_user("gestionnaire", "bench-password", ["gestionnaire"], commit=False)
                db.session.commit()
            definitions.deploy_files([LOOP], "bench")
            case = cases.start_case(by_username("gestionnaire"), "boucle", {"customer_name": "Banc d'essai"})
            case_id = case.id
            pspec = definitions.spec_for(case.definition)
            floor = None
            if with_floor:
                floor_case = cases.start_case(by_username("gestionnaire"), "boucle", {"customer_name": "Plancher"})
                floor = CoreFloor(db.engine, floor_case.id)
            for n in range(1, passes + 1):
                db.session.remove()  # each step starts from the database, like a request
                values = {"again": n < passes, "note": f"passe {n}"}
                if floor is not None:
                    state = db.session.get(WorkflowState, case_id).state
                    db.session.remove()
                    out["engine"][n], engine_cpu = engine_once(pspec, state, values)
                    out["core"][n] = floor.once()
                    out["floor_cpu"][n] = engine_cpu + floor.cpu
                user = by_username("gestionnaire")
                # Ids only, as a request has them: the rows are not in the session (the completion reads them).
                ready = [r.id for r in ready_for_case(case_id)]
                if not ready:
                    out["stopped"] = f"no ready task at pass {n}"
                    break
                counter.start()
                start, cpu = time.perf_counter(), time.process_time()
                case = cases.complete_task(user, ready[0], values)
                out["times"][n], out["cpu"][n] = time.perf_counter() - start, time.process_time() - cpu
                out["statements"][n] = counter.stop()
                out["sizes"][n] = len(db.session.get(WorkflowState, case_id).state)
                if case.incident:
                    out["stopped"] = f"incident at pass {n}: {case.incident[:60]}…"
                    break
            db.session.remove()
            db.drop_all()
    finally:
        CaseWorkflow.compaction = True
        with app.app_context():
            db.engine.dispose()
    return out


def complaint_run(url: str, cases_count: int) -> dict:
    """Drive `cases_count` complaints through their happy path (bench/common.py LIFECYCLE) by the service. Returns,
    by step, lists of: "times" (s), "statements", "engine" (the engine alone from the same stored state, handlers
    run with their effects dropped) and "core" (the floor's Core transaction on a case of its own), both floor
    parts run just before each step."""
    from common import COMPLAINT, LIFECYCLE, prepare
    from overhead import MemoryContext

    from app.extensions import db
    from app.models import WorkflowState
    from app.services.cases import lifecycle as cases
    from app.services.core import definitions
    from app.services.people.users import by_username
    from app.services.tasks.actions import ready_for_case

    app = prepare(url)
    out = {k: {bpmn_id: [] for bpmn_id, _, _ in LIFECYCLE}
           for k in ("times", "statements", "engine", "core", "cpu", "floor_cpu")}
    with app.app_context():
        counter = StatementCounter(db.engine)
        pspec = definitions.spec_for(definitions.active("reclamation"))
        floor = CoreFloor(db.engine, cases.start_case(by_username("accueil"), "reclamation", dict(COMPLAINT)).id)
        for _ in range(cases_count):
            db.session.remove()
            case_id = cases.start_case(by_username("accueil"), "reclamation", dict(COMPLAINT)).id
            for bpmn_id, group, data in LIFECYCLE:
                db.session.remove()  # each step starts from the database, like a request
                state = db.session.get(WorkflowState, case_id).state
                db.session.remove()
                engine, engine_cpu = engine_once(pspec, state, data, MemoryContext, bpmn_id)
                out["engine"][bpmn_id].append(engine)
                out["core"][bpmn_id].append(floor.once())
                out["floor_cpu"][bpmn_id].append(engine_cpu + floor.cpu)
                user = by_username(group)
                task_id = next(r.id for r in ready_for_case(case_id) if r.bpmn_id == bpmn_id)  # an id, as a request
                counter.start()
                start, cpu = time.perf_counter(), time.process_time()
                cases.complete_task(user, task_id, dict(data))
                out["times"][bpmn_id].append(time.perf_counter() - start)
                out["cpu"][bpmn_id].append(time.process_time() - cpu)
                out["statements"][bpmn_id].append(counter.stop())
        db.session.remove()
        db.engine.dispose()
    return out


def print_complaint(label: str, url: str, cases_count: int) -> None:
    run = complaint_run(url, cases_count)
    backend, worst, services, floors = backend_of(url), (0.0, ""), 0.0, 0.0
    print(f"\nComplaint process (processes/reclamation.bpmn), {label}: median of {cases_count} cases per step "
          "(service / floor: the median of the per-step ratios), "
          "each step in a new session; its floor measured just before it: the engine alone from the same stored "
          "state (handlers run, their effects dropped: bench/overhead.py MemoryContext) and the Core transaction "
          "(bench/floor.py) on a case of its own.\n")
    print("| step | service (ms) | engine alone (ms) | Core transaction (ms) | floor (ms) | service / floor "
          "| same, CPU of this process | SQL statements |")
    print("|---|---|---|---|---|---|---|---|")
    for bpmn_id, samples in run["times"].items():
        service = statistics.median(samples)
        engine, core = statistics.median(run["engine"][bpmn_id]), statistics.median(run["core"][bpmn_id])
        ratio = statistics.median(t / (e + c) for t, e, c in zip(samples, run["engine"][bpmn_id],
                                                                  run["core"][bpmn_id], strict=True))
        cpu = statistics.median(c / f for c, f in zip(run["cpu"][bpmn_id], run["floor_cpu"][bpmn_id], strict=True))
        worst, services, floors = max(worst, (ratio, bpmn_id)), services + service, floors + engine + core
        print(f"| {bpmn_id} | {ms(service)} | {ms(engine)} | {ms(core)} | {ms(engine + core)} "
              f"| {ratio:.2f}× | {cpu:.2f}× | {statistics.median(run['statements'][bpmn_id]):.0f} |")
    print(f"\nAll five steps: service {ms(services)} ms / floor {ms(floors)} ms = {services / floors:.2f}×; "
          f"worst step {worst[1]} ({worst[0]:.2f}×).")
    record(f"step.complaint.worst.{backend}", worst[0], note=worst[1])
    record(f"step.complaint.all.{backend}", services / floors, f"floor {ms(floors)} ms for the 5 steps")


def engine_run(passes: int, compaction: bool) -> dict[int, dict[str, float]]:
    """The engine alone, per pass: deserialize, complete + engine steps, serialize (s), and state size."""
    from app.engine import CaseWorkflow, StepContext, parse_definition

    pspec = parse_definition(LOOP.read_text(encoding="utf-8"))
    CaseWorkflow.compaction = compaction
    figures = {}
    try:
        workflow, _ = CaseWorkflow.start(pspec, {"customer_name": "x"}, StepContext())
        state = workflow.dump()
        for n in range(1, passes + 1):
            t0 = time.perf_counter()
            workflow = CaseWorkflow.load(pspec, state, StepContext())
            t1 = time.perf_counter()
            ready = workflow.ready_tasks()
            if not ready:
                break
            result = workflow.complete(ready[0].id, {"again": n < passes, "note": f"passe {n}"})
            t2 = time.perf_counter()
            state = workflow.dump()
            t3 = time.perf_counter()
            figures[n] = {"load": t1 - t0, "step": t2 - t1, "save": t3 - t2, "size": len(state)}
            if result.error:
                break
    finally:
        CaseWorkflow.compaction = True
    return figures


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.2f}"


def print_service(label: str, times: dict, sizes: dict, points: list[int], width: int, stopped: str | None) -> None:
    cells = [ms(window(times, p, width)) for p in points]
    base, at500 = window(times, 5, width), window(times, 500, width)
    last = window(times, points[-1], width)
    ratio = (at500 or last) / base if base and (at500 or last) else None
    size = " / ".join(f"{sizes[p] // 1024 if sizes[p] >= 10240 else sizes[p]}{' KiB' if sizes[p] >= 10240 else ' B'}"
                      if p in sizes else "—" for p in points)
    print(f"| {label} | " + " | ".join(cells) + f" | {'—' if ratio is None else f'{ratio:.2f}'} | {size} |"
          + (f" {stopped}" if stopped else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a postgresql:// server URL")
    parser.add_argument("--passes", type=int, default=1000)
    parser.add_argument("--raw-passes", type=int, default=290,
                        help="passes without compaction (SpiffWorkflow stalls near 333)")
    parser.add_argument("--window", type=int, default=9, help="steps per median")
    parser.add_argument("--complaints", type=int, default=20,
                        help="complaint cases driven through their happy path (0: no complaint section)")
    parser.add_argument("--smoke", action="store_true", help="a handful of passes, to check that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.passes, args.raw_passes, args.window, args.complaints = 8, 8, 3, 1
    sys.path.insert(0, str(ROOT))

    database = Database(args.db)
    try:
        points = checkpoints(args.passes)
        raw_points = [p for p in points if p <= args.raw_passes] or [args.raw_passes]
        if args.raw_passes not in raw_points and args.raw_passes < args.passes:
            raw_points.append(args.raw_passes)
        print(f"Machine: {machine()}; database: {database.label}")
        print("Method: one `boucle` case (tests/bpmn/loop.bpmn) driven pass after pass through "
              "cases.complete_task, a new session per step; median of the "
              f"{args.window} steps around each pass; time in ms; state = stored workflow JSON.\n")
        print(f"Per-step service cost, {database.label} (ms; ratio = pass 500 / pass 5, or last / 5):\n")
        print("| mode | " + " | ".join(f"pass {p}" for p in points) + " | ratio | state size at those passes |")
        print("|---" * (len(points) + 3) + "|")
        run = service_run(database.url, args.passes, compaction=True)
        times, sizes, stopped = run["times"], run["sizes"], run["stopped"]
        print_service("service, compacted", times, sizes, points, args.window, stopped)
        raw = service_run(database.url, min(args.raw_passes, args.passes), False, with_floor=False)
        raw_times, raw_sizes, raw_stopped = raw["times"], raw["sizes"], raw["stopped"]
        cells = {p: window(raw_times, p, args.window) for p in raw_points}
        print("| service, raw SpiffWorkflow (no compaction) | " + " | ".join(
            ms(cells.get(p)) for p in points) + " | — | " + " / ".join(
            f"{raw_sizes[p] // 1024} KiB" if p in raw_sizes else "—" for p in points) + " |"
            + (f" {raw_stopped}" if raw_stopped else ""))
        if args.raw_passes not in points and args.raw_passes in raw_times:
            print(f"\nRaw service cost at pass {args.raw_passes}: {ms(window(raw_times, args.raw_passes, args.window))}"
                  f" ms, state {raw_sizes[args.raw_passes] // 1024} KiB.")

        print(f"\nPhysical floor, {database.label}: the engine alone (load + step + save from the same stored state, "
              "no database) plus a minimal Core transaction writing the same rows (bench/floor.py, on a case of its "
              "own), both run just before each service step so that they see the same machine load; service / "
              f"floor = the median of the per-step ratios over the {args.window} steps around the pass; the CPU ratio "
              "counts this process only (not the sandbox worker, not the PostgreSQL server): on SQLite it is the "
              "figure least moved by other people's load.\n")
        print("| pass | service (ms) | engine alone (ms) | Core transaction (ms) | floor (ms) | service / floor "
              "| same, CPU of this process | SQL statements per step (floor: 7) |")
        print("|---|---|---|---|---|---|---|---|")
        ratios = {n: t / (run["engine"][n] + run["core"][n]) for n, t in times.items() if n in run["core"]}
        cpu_ratios = {n: c / run["floor_cpu"][n] for n, c in run["cpu"].items() if run["floor_cpu"].get(n)}
        for p in points:
            service, alone, core = (window(run[k], p, args.window) for k in ("times", "engine", "core"))
            ratio, count = window(ratios, p, args.window), window(run["statements"], p, args.window)
            if None in (service, alone, core, ratio):
                continue
            cpu = window(cpu_ratios, p, args.window)
            print(f"| {p} | {ms(service)} | {ms(alone)} | {ms(core)} | {ms(alone + core)} | {ratio:.2f}× "
                  f"| {'—' if cpu is None else f'{cpu:.2f}×'} | {'—' if count is None else f'{count:.0f}'} |")
            if p in (5, 1000):
                record(f"step.loop.pass{p}.{backend_of(database.url)}", ratio, f"floor {ms(alone + core)} ms")
        first, last = window(times, 5, args.window), window(times, 1000, args.window)
        if first and last:
            record(f"step.flat.{backend_of(database.url)}", last / first)

        print("\nEngine alone, no database (ms: load = deserialize, step = complete + engine steps "
              "(+ compaction), save = serialize):\n")
        print("| mode | pass | load | step | save | state |")
        print("|---|---|---|---|---|---|")
        for label, compaction, limit in (("compacted", True, args.passes), ("raw", False, args.raw_passes)):
            figures = engine_run(min(limit, args.passes), compaction)
            for p in sorted({5, 200, 300, 500, 1000, min(limit, args.passes)}):
                near = [figures[q] for q in range(p - args.window // 2, p + args.window // 2 + 1) if q in figures]
                if p > min(limit, args.passes) or not near:
                    continue
                med = {k: statistics.median(f[k] for f in near) for k in ("load", "step", "save")}
                print(f"| {label} | {p} | {ms(med['load'])} | {ms(med['step'])} | {ms(med['save'])} "
                      f"| {figures[p]['size'] if p in figures else near[-1]['size']} B |")
        if args.complaints:
            print_complaint(database.label, database.url, args.complaints)
    finally:
        database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
