"""Smoke test: bench/mail_intake.py still runs against a real Dovecot (20 messages), so the benchmark cannot rot."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mail_intake_bench_prints_its_table():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_KEY": "bench-smoke"}
    done = subprocess.run([sys.executable, "bench/mail_intake.py", "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Machine:" in out and "Method:" in out
    [row] = [line for line in out.splitlines() if line.startswith("| SQLite |")]
    cells = [c.strip() for c in row.split("|")[2:7]]
    assert cells[0] == "20" and all(float(c) > 0 for c in cells[1:]), row
    assert "'case_opened': 14, 'threaded': 4, 'auto_reply': 2" in out
