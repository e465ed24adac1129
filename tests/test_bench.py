"""The benchmark keeps running: a smoke run of bench/run.py (tiny sizes, real databases, real gunicorn)."""

import os
import subprocess
import sys

from tests.support.setup import ROOT


def test_benchmark_smoke_run(tmp_path):
    out = tmp_path / "bench.md"
    done = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--output", str(out)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    report = out.read_text(encoding="utf-8")
    for heading in ("Machine", "(1) Overhead per step", "(2)", "(3a)", "(3b)", "(4a) Requests per second",
                    "(4b) Lifecycles", "(5)", "(6)", "(7) Cost as the work grows"):
        assert heading in report, heading
    assert "| total |" in report
    throughput = report.split("(4b) Lifecycles")[1].split("###")[0]
    row = [line for line in throughput.splitlines() if line.startswith("| 1 |")][0]
    assert row.split("|")[4].strip() == "0"  # no failed lifecycle
    assert int(row.split("|")[3]) == 2
    rates = report.split("(4a) Requests per second")[1].split("###")[0]
    for request in ("GET /health/live", "POST /api/tasks/<id>/complete", "GET /taches/"):
        line = next(r for r in rates.splitlines() if r.startswith(f"| {request}"))
        assert line.split("|")[3].strip() == "0", line  # no failed request
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("BENCH_DATABASE_URL"):
        scale = report.split("(7) Cost as the work grows")[1]
        assert "| 300 cases |" in scale and "| cases | 300 |" in scale
