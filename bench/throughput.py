"""(4) Throughput through HTTP: request rates with one gunicorn worker, full lifecycles with 1, 2 and 4.

Rates (one sync worker, 2 client threads with keep-alive connections, closed loop, bounded): the trivial
endpoint (GET /health/live, the stack's ceiling), POST /api/tasks/<id>/complete (the qualification of cases
started beforehand, not timed) and the task list page GET /taches/ (signed in through the login form).
Lifecycles: POST /api/cases, then the five task completions of the happy path (6 requests), 2 client threads
per worker, until the bounded number of lifecycles is done.

    python bench/throughput.py [--lifecycles N] [--workers 1,2,4] [--backend postgresql] [--requests N]
    python bench/throughput.py --rates-only --database URL   # rates against an existing database (bench/scale.py)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from common import COMPLAINT, LIFECYCLE, ROOT, fresh_database, prepare, table
from figures import record


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def page(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        """A browser-like request: the session cookie kept, a form posted url-encoded."""
        from urllib.parse import urlencode

        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return resp.status, text

    def sign_in(self, username: str) -> None:
        _, text = self.page("GET", "/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text).group(1)
        status, _ = self.page("POST", "/login", {"csrf_token": token, "username": username, "password": "demo"})
        if status not in (302, 303):
            raise RuntimeError(f"sign-in of {username} refused ({status})")

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


def serve(url: str, workers: int, extra_env: dict | None = None):
    port = free_port()
    # No worker recycling (gunicorn.conf.py: every ~2,000 requests in production): the rates send ~2,400
    # requests to one worker, and a new worker importing the app in the middle of a measure was timed with it.
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "PORT": str(port),
           "WEB_CONCURRENCY": str(workers), "RATELIMIT_ENABLED": "0", "PYTHONPATH": str(ROOT),
           "LOG_LEVEL": "WARNING", "GUNICORN_MAX_REQUESTS": "0", **(extra_env or {})}
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


def closed_loop(port: int, jobs: list, clients: list) -> tuple[float, int]:
    """Run the jobs (callables taking a client, True when the answer was right) on the clients' threads, each
    taking the next job when its previous one is answered; return (seconds, failures)."""
    lock, queue, failed = threading.Lock(), list(reversed(jobs)), [0]

    def drive(client):
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            if not job(client):
                with lock:
                    failed[0] += 1

    threads = [threading.Thread(target=drive, args=(c,)) for c in clients]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, failed[0]


def worker_cpu(master_pid: int):
    """A function giving the CPU seconds (user + system) used so far by the gunicorn master's one worker, read
    from /proc (Linux); None elsewhere. The worker's CPU per request does not count the clients' and the
    database server's, which share the machine's CPUs: steadier than a rate when the machine is busy."""
    try:
        pid = int(open(f"/proc/{master_pid}/task/{master_pid}/children").read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick
    return used


def rates(url: str, requests: int, clients: int = 2, extra_env: dict | None = None) -> list[dict]:
    """Requests per second of one gunicorn worker: trivial endpoint, task completion, task list page, each with
    the worker's CPU milliseconds per request (cpu_ms, None where /proc is not there)."""
    proc, port = serve(url, 1, extra_env)
    out = []
    used = worker_cpu(proc.pid)

    def timed(jobs, pool) -> tuple[float, int, float | None]:
        before = used() if used else None
        seconds, failed = closed_loop(port, jobs, pool)
        return seconds, failed, (used() - before) * 1000 / len(jobs) if used else None
    try:
        login = Client(port)
        tokens = {g: login.call("POST", "/api/login", {"username": g, "password": "demo"})[1]["token"]
                  for g in ("accueil", "gestionnaire")}
        pool = [Client(port) for _ in range(clients)]

        def trivial(client):
            return client.call("GET", "/health/live")[0] == 200

        seconds, failed, cpu = timed([trivial] * requests, pool)
        out.append({"what": "GET /health/live (trivial endpoint: the ceiling)", "requests": requests,
                    "failed": failed, "seconds": seconds, "cpu_ms": cpu})

        ready = []
        for _ in range(requests):  # the cases whose qualification is completed below (not timed)
            status, case = login.call("POST", "/api/cases", {"process": "reclamation", "data": COMPLAINT},
                                      tokens["accueil"])
            if status != 201:
                raise RuntimeError(f"POST /api/cases answered {status}: {case}")
            ready.append(next(t["id"] for t in case["tasks"] if t["bpmn_id"] == "ut_qualify"))
        qualify = LIFECYCLE[0][2]

        def complete(task_id):
            def job(client):
                status, _ = client.call("POST", f"/api/tasks/{task_id}/complete", {"data": qualify},
                                        tokens["gestionnaire"])
                return status == 200
            return job

        seconds, failed, cpu = timed([complete(t) for t in ready], pool)
        out.append({"what": "POST /api/tasks/<id>/complete (qualification)", "requests": requests,
                    "failed": failed, "seconds": seconds, "cpu_ms": cpu})

        # The qualifications above sent their cases to the analysis step, in the service lane: the team tab of
        # « service » holds them (50 rows shown). Before 3 December 2026 this signed in « gestionnaire », whose
        # team tab was empty after the completions: the figure was that of an empty table.
        for client in pool:
            client.sign_in("service")

        def task_list(client):
            status, text = client.page("GET", "/taches/?onglet=group")
            return status == 200 and "Mon équipe" in text and 'name="task_ids"' in text

        seconds, failed, cpu = timed([task_list] * requests, pool)
        out.append({"what": "GET /taches/ (task list page, team tab, 50 rows)", "requests": requests, "failed": failed,
                    "seconds": seconds, "cpu_ms": cpu})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    for r in out:
        r["per_s"] = r["requests"] / r["seconds"]
    return out


def rates_table(rows: list[dict], title: str) -> str:
    return table(title, ["request", "requests", "failed", "seconds", "requests/s", "worker CPU (ms/request)"],
                 [[r["what"], r["requests"], r["failed"], r["seconds"], r["per_s"],
                   "?" if r.get("cpu_ms") is None else r["cpu_ms"]] for r in rows])


def run_rates(requests: int, backends: list[str]) -> str:
    parts = []
    for backend in backends:
        with fresh_database(backend) as url:
            app = prepare(url)
            with app.app_context():
                from app.extensions import db

                db.session.remove()
                db.engine.dispose()
            rows = rates(url, requests)
            parts.append(rates_table(rows, f"(4a) Requests per second, one gunicorn sync worker, {backend}"))
        ceiling = f"ceiling {rows[0]['per_s']:,.0f}".replace(",", " ")
        record(f"rate.complete.{backend}", rows[1]["per_s"], ceiling)
        record(f"rate.task_list.{backend}", rows[2]["per_s"], ceiling)
    return "\n".join(parts)


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
    return table(f"(4b) Lifecycles through HTTP, gunicorn sync workers, {backend}",
                 ["workers", "client threads", "lifecycles done", "failed", "seconds", "lifecycles/s",
                  "requests/s"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=60)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--backend", default="postgresql")
    parser.add_argument("--requests", type=int, default=600, help="requests per rate measure")
    parser.add_argument("--rates-only", action="store_true")
    parser.add_argument("--database", help="with --rates-only: an existing, filled database")
    args = parser.parse_args()
    if args.database:
        print(rates_table(rates(args.database, args.requests), "(4a) Requests per second, one gunicorn worker"))
    elif args.rates_only:
        print(run_rates(args.requests, args.backend.split(",")))
    else:
        print(run_rates(args.requests, args.backend.split(",")))
        print(run(args.lifecycles, [int(w) for w in args.workers.split(",")], args.backend.split(",")[-1]))
