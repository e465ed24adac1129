"""Smoke test: bench/letter_pdf.py still runs (two runs), so the PDF benchmark cannot rot."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_letter_pdf_bench_prints_its_table():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_KEY": "bench-smoke"}
    done = subprocess.run([sys.executable, "bench/letter_pdf.py", "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Machine:" in out and "load average" in out and "Method:" in out
    rows = [line for line in out.splitlines() if line.startswith("| short") or line.startswith("| long")]
    assert len(rows) == 2, out
    for row in rows:
        cells = [c.strip() for c in row.split("|")[2:8]]
        assert cells[0] == "2" and all(float(c) > 0 for c in cells[1:]), row  # runs, then timings and size
    assert "(1 p.)" in rows[0] and "(1 p.)" not in rows[1]  # the long letter runs over several pages
