"""/metrics (Prometheus text format) and /health/live, /health/ready; the docs' dashboard and alerts.

Counters are process-wide (prometheus-client): tests compare before and after, never absolute counts.
"""

import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import stamp
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text, update

from app import clock
from app.extensions import db
from app.models import Case, OutboxMessage
from tests.support.flows import complaint_data, start
from tests.support.migrations import migration_head
from tests.support.servers import gunicorn
from tests.support.setup import ROOT

DOCS = ROOT / "docs" / "ops"
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def samples(body: str) -> dict:
    """{(name, sorted labels): value} of an exposition text."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client, **kw) -> dict:
    resp = client.get("/metrics", environ_base=LOOPBACK, **kw)
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == "text/plain"
    return samples(resp.get_data(as_text=True))


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def stamped(ctx):
    """The fixture's tables recorded at the head revision, as init-db does; the stamp is removed afterwards."""
    stamp()
    yield
    db.session.remove()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_metrics_loopback_only_without_a_token(client):
    assert client.get("/metrics", environ_base=LOOPBACK).status_code == 200
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert refused.status_code == 403 and "METRICS_TOKEN" in refused.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"METRICS_TOKEN": "s3cret-token"}])
def test_metrics_token_required_from_anywhere_when_set(client):
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", environ_base=LOOPBACK).status_code == 403  # the token, even locally
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and b"reclamations_open_cases" in ok.data


def test_request_counts_and_latency_per_route_not_per_path(api, deployed, client):
    refs = [start(api, **complaint_data())["reference"] for _ in range(2)]
    before = scrape(client)
    for ref in refs:
        assert api.get("gestionnaire", f"/api/cases/{ref}").status_code == 200
    assert api.get("gestionnaire", "/api/cases/REC-0000-999999").status_code == 404
    after = scrape(client)
    labels = {"endpoint": "api.get_case", "method": "GET"}
    assert value(after, "reclamations_http_requests_total", **labels, status="200") - value(
        before, "reclamations_http_requests_total", **labels, status="200") == 2
    assert value(after, "reclamations_http_requests_total", **labels, status="404") - value(
        before, "reclamations_http_requests_total", **labels, status="404") == 1
    assert value(after, "reclamations_http_request_duration_seconds_count", **labels) - value(
        before, "reclamations_http_request_duration_seconds_count", **labels) == 3
    assert not any(any(ref in v for _, v in key[1]) for key in after for ref in refs)  # no raw paths


def test_engine_steps_are_timed(api, deployed, client):
    before = scrape(client)
    ref = start(api, **complaint_data())["reference"]
    task = api.get("admin", f"/api/cases/{ref}").get_json()["tasks"][0]
    resp = api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": {
        "admissible": "yes", "category": "billing", "severity": "high", "department": "billing",
        "qualification_comment": "ok"}})
    assert resp.status_code == 200
    after = scrape(client)
    for event in ("engine_steps", "task_completed"):
        name = "reclamations_engine_step_duration_seconds_count"
        assert value(after, name, event=event) - value(before, name, event=event) == 1
    assert value(after, "reclamations_engine_step_duration_seconds_sum", event="task_completed") > value(
        before, "reclamations_engine_step_duration_seconds_sum", event="task_completed")


def test_gauges_read_from_the_database_at_scrape_time(api, deployed, client):
    refs = [start(api, **complaint_data(customer_name=f"C{i}"))["reference"] for i in range(3)]
    found = scrape(client)
    assert value(found, "reclamations_open_cases", process="reclamation", status="open") == 3
    assert value(found, "reclamations_open_tasks", lane="gestionnaire") == 3
    assert value(found, "reclamations_overdue_tasks", lane="gestionnaire") == 0
    assert value(found, "reclamations_outbox_messages", status="pending") == 3
    assert value(found, "reclamations_outbox_messages", status="failed") == 0
    assert value(found, "reclamations_incidents") == 0 and value(found, "reclamations_database_up") == 1
    with client.application.app_context():
        late = clock.now() - timedelta(minutes=7)
        db.session.execute(update(Case).where(Case.reference == refs[0]).values(next_timer_at=late))
        db.session.execute(update(Case).where(Case.reference == refs[1]).values(incident="Script en échec"))
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == db.session.query(
            OutboxMessage.id).order_by(OutboxMessage.id).limit(1).scalar_subquery()).values(status="failed"))
        db.session.commit()
    clock.advance(days=30)  # past every task's due date; the pending messages are now 30 days old
    found = scrape(client)
    assert value(found, "reclamations_overdue_tasks", lane="gestionnaire") == 3
    assert value(found, "reclamations_timer_lag_seconds") == pytest.approx(30 * 86400 + 7 * 60)
    assert value(found, "reclamations_timers_due") == 1
    assert value(found, "reclamations_incidents") == 1
    assert value(found, "reclamations_outbox_messages", status="failed") == 1
    assert value(found, "reclamations_outbox_messages", status="pending") == 2
    assert value(found, "reclamations_outbox_oldest_pending_age_seconds") == pytest.approx(30 * 86400)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "LOGIN_RATELIMIT": "2 per minute",
                                         "RATELIMIT_STORAGE_URI": "memory://"}])
def test_rate_limit_rejections_are_counted(users, client):
    before = scrape(client)
    codes = [client.post("/login", data={"username": "x", "password": "y"}).status_code for _ in range(4)]
    assert codes.count(429) == 2
    after = scrape(client)
    name = "reclamations_rate_limit_rejections_total"
    assert value(after, name, endpoint="auth.login") - value(before, name, endpoint="auth.login") == 2


def test_liveness_and_readiness(app, stamped, runner, client):
    assert client.get("/health/live").get_json() == {"status": "ok"}
    waiting = client.get("/health/ready")
    assert waiting.status_code == 503
    body = waiting.get_json()
    assert body["database"] == "ok" and body["migrations"] == "ok"
    assert body["workers"] == {"timers": {"status": "absent"}, "outbox": {"status": "absent"}}
    for args in (["timers", "run", "--once"], ["outbox", "send", "--once"]):
        assert runner.invoke(args=args).exit_code == 0
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["workers"]["timers"] == {"status": "ok", "age_seconds": 0.0}
    assert scrape(client)[("reclamations_worker_heartbeat_age_seconds", (("worker", "outbox"),))] == 0
    clock.advance(seconds=61)
    stale = client.get("/health/ready")
    assert stale.status_code == 503 and stale.get_json()["workers"]["outbox"]["status"] == "en retard"
    assert runner.invoke(args=["timers", "run", "--once"]).exit_code == 0
    assert runner.invoke(args=["outbox", "send", "--once"]).exit_code == 0
    assert client.get("/health/ready").status_code == 200
    with app.app_context():
        stamp(revision="baseline")
    if migration_head() != "baseline":
        behind = client.get("/health/ready")
        assert behind.status_code == 503 and behind.get_json()["migrations"].startswith("baseline")
    legacy = client.get("/health").get_json()  # unchanged for existing monitors
    assert set(legacy) == {"status", "database", "schema_revision"} and legacy["status"] == "ok"


@pytest.mark.parametrize("app_config", [{"READY_WORKERS": ""}])
def test_readiness_without_expected_workers(stamped, client):
    assert client.get("/health/ready").status_code == 200


def referenced_metrics() -> set[str]:
    texts = [(DOCS / "prometheus-alerts.yml").read_text()]
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    texts += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return set(re.findall(r"\breclamations_[a-z_]+", "\n".join(texts)))


def test_docs_reference_only_metrics_of_a_real_scrape(api, deployed, client):
    start(api, **complaint_data())
    body = client.get("/metrics", environ_base=LOOPBACK).get_data(as_text=True)
    names = set()
    for family in text_string_to_metric_families(body):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    names.update(re.findall(r"^# TYPE (\S+)", body, re.M))
    referenced = referenced_metrics()
    assert len(referenced) >= 12
    assert referenced <= names, referenced - names


def test_two_gunicorn_workers_counts_are_summed(tmp_path):
    """A real gunicorn with two workers: one scrape shows the /health requests both workers answered."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/prod.db", "SECRET_KEY": "k" * 32, "WEB_CONCURRENCY": "2",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "INSTANCE_PATH": str(tmp_path / "instance")}
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], env={**_env(), **env},
                   cwd=ROOT, check=True, capture_output=True)
    labels = {"endpoint": "ops.health_check", "method": "GET", "status": "200"}
    with gunicorn(env, tmp_path / "gunicorn.log") as base:
        booted = None
        for _ in range(50):  # the boot checks (one or more: a slow boot makes the client retry): until settled
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
                seen = value(samples(resp.read().decode()), "reclamations_http_requests_total", **labels)
            if seen == booted:
                break
            booted = seen
            time.sleep(0.2)
        sent = 0
        per_worker = {}
        for _ in range(20):  # bounded: until both workers have answered some
            threads = [threading.Thread(target=_hit, args=(base, 10)) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            sent += 60
            per_worker = _counts_per_process(tmp_path / "metrics", tmp_path / "split")
            if len([n for n in per_worker.values() if n]) >= 2:
                break
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
            scraped = samples(resp.read().decode())
    busy = [n for n in per_worker.values() if n]
    assert len(busy) == 2, per_worker  # both workers answered /health
    total = value(scraped, "reclamations_http_requests_total", **labels)
    assert booted >= 1 and total == sum(busy) == sent + booted  # each request counted once, whichever worker


def _env() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _hit(base: str, times: int) -> None:
    for _ in range(times):
        with urllib.request.urlopen(f"{base}/health", timeout=10) as resp:
            resp.read()


def _counts_per_process(folder: Path, work: Path) -> dict:
    """/health requests counted by each process, read from its own file only."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        single = work / path.stem
        shutil.rmtree(single, ignore_errors=True)
        single.mkdir(parents=True)
        shutil.copy(path, single / path.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(single))
        found = samples(generate_latest(registry).decode())
        counts[path.stem] = value(found, "reclamations_http_requests_total", endpoint="ops.health_check",
                                  method="GET", status="200")
    return counts
