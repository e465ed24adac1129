"""The benchmark: one report with the machine, the method and every figure (Markdown, for the README).

    python bench/run.py            # full run (a few minutes); PostgreSQL from BENCH_DATABASE_URL/TEST_DATABASE_URL
    python bench/run.py --smoke    # tiny sizes: checks that every part still runs (tests/test_bench.py)
    python bench/run.py --headline # only the parts of the headline table (1.5 min on a quiet 2-vCPU VM)

(1) bench/overhead.py: per step, SpiffWorkflow in memory vs our service with persistence, SQLite and PostgreSQL.
(2) bench/step_cost.py: per-step cost of a looping case (pass 5 to 1000) and of the complaint's steps, against
    their physical floor measured in the same run; SQLite, and PostgreSQL when a server is given.
(3) bench/task_list.py and bench/dashboard.py: task list and dashboard latency with 100,000 cases.
(4) bench/throughput.py: requests per second of one gunicorn worker (trivial endpoint, task completion, task
    list page; SQLite and PostgreSQL), then full lifecycles per second with 1, 2 and 4 workers, PostgreSQL;
    (4c) bench/round_trips.py: round trips to PostgreSQL and CPU (Python, server) per completion and page view.
(5) bench/replay.py (audit): replay time of a 100-event case.
(6) bench/letter_pdf.py: the cost of one letter PDF (WeasyPrint) and of writing a letter in a step.
(7) bench/scale.py (PostgreSQL only): the figures at 10,000 and 100,000 cases (1,000,000: generate it by hand,
    `bench/scale.py generate`, see the README, then give its URL as BENCH_MILLION_URL and it is measured too).
First in the report: the headline table of issue 21 (bench/figures.py), each figure beside its value before the
work, its floor or ceiling measured in the same run and its goal.
Scripts written by others are called as they are (with --smoke when they support it); a missing one is
reported as such.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import figures
from common import ROOT, machine, table

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


def external(name: str, smoke: bool, title: str, extra: tuple[str, ...] = ()) -> str:
    """Run another engineer's bench script and keep its printed table."""
    path = BENCH / name
    if not path.exists():
        return f"### {title}\n\nNot measured: `bench/{name}` is not in this tree.\n"
    args = [sys.executable, str(path), *extra]
    if smoke:
        usage = subprocess.run([*args, "--help"], capture_output=True, text=True, cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120).stdout
        if "--smoke" not in usage:
            return f"### {title}\n\nSkipped in the smoke run: `bench/{name}` has no --smoke option.\n"
        args.append("--smoke")
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"bench/{name} failed:\n{done.stdout}\n{done.stderr}")
    return f"### {title} (`bench/{name}`, {time.perf_counter() - t0:.0f} s)\n\n{done.stdout.strip()}\n"


def scale(smoke: bool) -> str:
    args = [sys.executable, str(BENCH / "scale.py"), "run", *(["--smoke"] if smoke else ["--scales", "10000,100000"])]
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"bench/scale.py failed:\n{done.stdout}\n{done.stderr}")
    summary = done.stdout[done.stdout.index("### (7)"):]
    return f"{summary.strip()}\n\n(`bench/scale.py`, {time.perf_counter() - t0:.0f} s; details: run it alone)\n"


def million(url: str) -> str:
    """Part (7) on an existing million-case database (bench/scale.py measure; generating one takes half an hour)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(BENCH / "scale.py"), "measure", "--database", url], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"bench/scale.py measure failed:\n{done.stdout}\n{done.stderr}")
    return (f"### (7b) The million-case database of BENCH_MILLION_URL (`bench/scale.py measure`, "
            f"{time.perf_counter() - t0:.0f} s)\n\n{done.stdout.strip()}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check that everything runs")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument("--headline", action="store_true",
                        help="only the parts of the headline table: (2) step cost and (4a) request rates, both "
                             "databases, and the million-case database of BENCH_MILLION_URL if set (~1.5 min quiet)")
    args = parser.parse_args()
    pg_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    has_pg = bool(pg_url)
    figures_file = tempfile.NamedTemporaryFile(prefix="bench-figures-", suffix=".jsonl", delete=False)
    figures_file.close()
    os.environ[figures.ENV] = figures_file.name  # every part records its headline figures there
    backends = ["sqlite", "postgresql"] if has_pg else ["sqlite"]

    import overhead
    import throughput

    m = machine()
    note = " (smoke run: sizes too small to mean anything)" if args.smoke else ""
    note += " (headline parts only: (2) and (4a))" if args.headline else ""
    requests = 10 if args.smoke else 600
    step_cost = [lambda: external("step_cost.py", args.smoke, "(2) Per-step cost of a looping case, SQLite")]
    if has_pg:
        step_cost.append(lambda: external("step_cost.py", args.smoke, "(2) Per-step cost of a looping case, "
                                          "PostgreSQL", ("--db", pg_url)))
    # (name, headline part?, how to run it): --headline runs only the parts that feed the headline table
    plan = [
        ("overhead", False, lambda: overhead.run(1 if args.smoke else 30, backends)),
        *(("step_cost", True, part) for part in step_cost),
        ("task_list", False, lambda: external("task_list.py", args.smoke, "(3a) Task list latency with 100,000 cases")),
        ("dashboard", False, lambda: external("dashboard.py", args.smoke, "(3b) Dashboard latency with 100,000 cases")),
        ("rates", True, lambda: throughput.run_rates(requests, backends)),
        ("round_trips", False, lambda: external("round_trips.py", args.smoke, "(4c) Round trips and CPU per request, "
                                                "PostgreSQL", ("--timed", "300")) if has_pg else
         "### (4c) Round trips per request\n\nNot measured: PostgreSQL only (set BENCH_DATABASE_URL).\n"),
        ("lifecycles", False, lambda: throughput.run(2 if args.smoke else 60, [1] if args.smoke else [1, 2, 4],
                                                     "postgresql" if has_pg else "sqlite")),
        ("replay", False, lambda: external("replay.py", args.smoke, "(5) Replay of a 100-event case")),
        ("letters", False, lambda: external("letter_pdf.py", args.smoke, "(6) Cost of one letter PDF")),
        ("scale", False, lambda: scale(args.smoke) if has_pg else
         "### (7) Cost as the work grows\n\nNot measured: PostgreSQL only (set BENCH_DATABASE_URL).\n"),
    ]
    parts = [
        f"## Benchmark, {datetime.now(UTC).date().isoformat()}{note}\n",
        table("Machine", ["nproc", "CPU", "RAM", "Python", "PostgreSQL"],
              [[m["nproc"], m["cpu"], m["ram"], m["python"], m["postgresql"]]]),
        *(run() for _, headline_part, run in plan if headline_part or not args.headline),
    ]
    if os.environ.get("BENCH_MILLION_URL"):
        parts.append(million(os.environ["BENCH_MILLION_URL"]))
    os.environ.pop(figures.ENV)
    head = figures.headline(figures_file.name)
    os.unlink(figures_file.name)
    parts.insert(2, f"### Headline figures (issue 21): before, now, floor, goal\n\n{head}\n\n"
                    f"Load average at the end of the run: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}.\n")
    report = "\n".join(parts)
    print(report)
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
