"""(4) Full complaint lifecycles per second through HTTP, gunicorn with 1, 2 and 4 workers, PostgreSQL.

Each lifecycle: POST /api/cases, then the five task completions of the happy path (6 requests). The client
runs 2 threads per worker, each with a keep-alive connection, until the bounded number of lifecycles is done.

    python bench/throughput.py [--lifecycles N] [--workers 1,2,4] [--backend postgresql]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from common import COMPLAINT, LIFECYCLE, ROOT, fresh_database, prepare, table


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")


def lifecycle(client: Client, tokens: dict) -> bool:
    status, case = client.call("POST", "/api/cases", {"process": "reclamation", "data": COMPLAINT}, tokens["accueil"])
    if status != 201:
        return False
    for bpmn_id, group, data in LIFECYCLE:
        task = next((t for t in case["tasks"] if t["bpmn_id"] == bpmn_id), None)
        if task is None:
            return False
        status, case = client.call("POST", f"/api/tasks/{task['id']}/complete", {"data": data}, tokens[group])
        if status != 200:
            return False
    return case["completed"] is True


def serve(url: str, workers: int):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "PORT": str(port),
           "WEB_CONCURRENCY": str(workers), "RATELIMIT_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def measure(url: str, workers: int, lifecycles: int) -> dict:
    proc, port = serve(url, workers)
    try:
        login = Client(port)
        tokens = {g: login.call("POST", "/api/login", {"username": g, "password": "demo"})[1]["token"]
                  for g in ("accueil", "gestionnaire", "service")}
        remaining, lock, done, failed = [lifecycles], threading.Lock(), [0], [0]

        def drive():
            client = Client(port)
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                ok = lifecycle(client, tokens)
                with lock:
                    (done if ok else failed)[0] += 1

        threads = [threading.Thread(target=drive) for _ in range(max(2, 2 * workers))]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {"workers": workers, "clients": len(threads), "done": done[0], "failed": failed[0], "seconds": elapsed,
            "per_s": done[0] / elapsed, "requests_per_s": done[0] * (1 + len(LIFECYCLE)) / elapsed}


def run(lifecycles: int, workers: list[int], backend: str) -> str:
    rows = []
    with fresh_database(backend) as url:
        app = prepare(url)
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
        for w in workers:
            r = measure(url, w, lifecycles)
            rows.append([r["workers"], r["clients"], r["done"], r["failed"], r["seconds"], r["per_s"],
                         r["requests_per_s"]])
    return table(f"(4) Throughput through HTTP, gunicorn sync workers, {backend}",
                 ["workers", "client threads", "lifecycles done", "failed", "seconds", "lifecycles/s",
                  "requests/s"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=60)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--backend", default="postgresql")
    args = parser.parse_args()
    print(run(args.lifecycles, [int(w) for w in args.workers.split(",")], args.backend))
