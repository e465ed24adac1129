"""The benchmark keeps running: a smoke run of bench/run.py (tiny sizes, real databases, real gunicorn)."""

import os
import subprocess
import sys

import pytest

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
        trips = report.split("(4c) Round trips")[1].split("### (4b)")[0]
        assert "| GET /taches/?onglet=group (team tab) | 4 |" in trips, trips  # BEGIN, user, page, ROLLBACK
        scale = report.split("(7) Cost as the work grows")[1]
        assert "| 300 cases |" in scale and "| cases | 300 |" in scale
    head = report.split("### Headline figures")[1].split("###")[0]
    lines = {line.split("|")[1].strip(): line for line in head.splitlines() if line.startswith("| ")}
    for backend in ("SQLite", *(["PostgreSQL"] if "| cases | 300 |" in report else [])):
        completion = lines[f"`POST /api/tasks/<id>/complete`, 1 gunicorn worker, {backend}"]
        assert "ceiling" in completion and "≥" in completion, completion
        loop = lines[f"one step / its floor, loop process, pass 5, {backend}"]
        assert float(loop.split("|")[3].strip().split("×")[0]) > 1  # a step costs more than its floor
        assert f"one step / its floor, complaint process, worst step, {backend}" in lines


def test_headline_table_shows_ranges_goals_and_refuses_undeclared_figures(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "bench"))
    import figures

    path = tmp_path / "figures.jsonl"
    monkeypatch.setenv(figures.ENV, str(path))
    figures.record("rate.complete.sqlite", 140.2, "ceiling 1 300")
    figures.record("rate.complete.sqlite", 161.9, "ceiling 1 300")
    figures.record("step.loop.pass5.postgresql", 1.87, "floor 3.5 ms")
    figures.record("scale.1000000.task_list_p95", 48.0, note="À risque")
    table = figures.headline(path).splitlines()
    assert table[0].startswith("| figure | before | now |")
    completion = next(line for line in table if "complete`, 1 gunicorn worker, SQLite" in line)
    assert "| 140 – 162 |" in completion and "ceiling 1 300" in completion and completion.endswith("| no |")
    loop = next(line for line in table if "pass 5, PostgreSQL" in line)
    assert "| 1.87× |" in loop and loop.endswith("| yes |")
    assert any("| 48.0 ms (À risque) |" in line and "| 729 ms |" in line for line in table)
    assert len(table) == 5  # figures not measured are left out
    monkeypatch.delenv(figures.ENV)
    figures.record("rate.complete.sqlite", 1.0)  # no file named: nothing written
    assert len(path.read_text().splitlines()) == 4
    monkeypatch.setenv(figures.ENV, str(path))
    figures.record("unknown.figure", 1.0)
    with pytest.raises(KeyError, match="unknown.figure"):
        figures.headline(path)
