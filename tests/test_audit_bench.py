"""Smoke run of bench/replay.py on a small case, so the benchmark cannot rot (its figures are not asserted)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_replay_benchmark_runs_on_a_small_case(backend):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(ROOT / "bench" / "replay.py"), "--events", "12", "--runs", "2", "--backends", backend]
    if backend == "postgresql":
        args += ["--pg", os.environ["TEST_DATABASE_URL"]]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| backend |")
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
    assert table[-1].startswith(f"| {name} | 12 (log ")
    assert "Machine:" in done.stdout and "Method:" in done.stdout
