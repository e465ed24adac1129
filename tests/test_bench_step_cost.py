"""Smoke test: bench/step_cost.py still runs (a handful of passes), so the benchmark cannot rot."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_step_cost_bench_prints_its_table():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_KEY": "bench-smoke"}
    done = subprocess.run([sys.executable, "bench/step_cost.py", "--passes", "8", "--raw-passes", "8", "--window", "3"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Machine:" in out and "Method:" in out and "SQLite" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert "service, compacted" in rows and "service, raw SpiffWorkflow (no compaction)" in rows
    cells = [c.strip() for c in rows["service, compacted"].split("|")[2:5]]
    assert all(float(c) > 0 for c in cells), rows["service, compacted"]  # pass 5, pass 8, ratio
    assert any(line.startswith("| compacted | 5 |") for line in out.splitlines())
    assert any(line.startswith("| raw | 8 |") for line in out.splitlines())
