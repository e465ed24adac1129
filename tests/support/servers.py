"""Real servers started by tests on free ports and stopped by them."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(env: dict, log: Path) -> Iterator[str]:
    """Run the production command (gunicorn.conf.py) with env; yield its base URL once /health answers."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    env.setdefault("PORT", str(free_port()))
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        for _ in range(300):  # wait for the workers to boot (bounded)
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
                    json.loads(resp.read())
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("gunicorn exited:\n" + log.read_text()) from None
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
