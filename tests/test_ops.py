"""Production plumbing: /health, JSON request logs with trace ids, error responses, security headers, gunicorn."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from app import create_app
from app.ops.logs import JsonFormatter
from tests.support.migrations import migration_head
from tests.support.setup import ROOT


@pytest.fixture
def log_lines(caplog):
    """The app's log records, formatted as the JSON lines production writes."""
    logger = logging.getLogger("reclamations")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="reclamations")
    formatter = JsonFormatter()
    yield lambda: [json.loads(formatter.format(r)) for r in caplog.records]
    logger.removeHandler(caplog.handler)


def test_health_reports_database_ok(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.is_json and resp.get_json()["status"] == "ok" and resp.get_json()["database"] == "ok"


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite"})
    resp = app.test_client().get("/health")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "error", "database": "unreachable"}


def test_one_json_line_per_request_with_user_and_trace_id(api, log_lines):
    api.get("gestionnaire", "/api/processes", headers={"X-Request-ID": "trace-abc-123456"})
    access = [e for e in log_lines() if e["logger"] == "reclamations.access"]
    mine = [e for e in access if e["path"] == "/api/processes"]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["method"] == "GET" and entry["status"] == 200 and entry["user"] == "gestionnaire"
    assert entry["trace_id"] == "trace-abc-123456" and entry["duration_ms"] >= 0
    assert entry["time"].endswith("+00:00")


def test_hostile_request_id_is_replaced(client):
    resp = client.get("/health", headers={"X-Request-ID": "bad id <script>"})
    assert resp.headers["X-Request-ID"] != "bad id" and len(resp.headers["X-Request-ID"]) == 32


def test_unhandled_error_is_logged_with_a_trace_id_and_answered_without_details(app, log_lines):
    def boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production (TESTING re-raises)
    app.add_url_rule("/api/boom", "boom_api", boom)
    app.add_url_rule("/boom", "boom_page", boom)
    client = app.test_client()
    api_resp = client.get("/api/boom")
    assert api_resp.status_code == 500 and api_resp.is_json
    body = api_resp.get_json()
    assert "secret internals" not in json.dumps(body) and body["trace_id"] == api_resp.headers["X-Request-ID"]
    page = client.get("/boom")
    assert page.status_code == 500 and b"secret internals" not in page.data
    assert page.headers["X-Request-ID"].encode() in page.data
    errors = [e for e in log_lines() if e["logger"] == "reclamations.errors"]
    assert {e["trace_id"] for e in errors} == {api_resp.headers["X-Request-ID"], page.headers["X-Request-ID"]}
    assert all("RuntimeError: secret internals" in e["exception"] for e in errors)


def test_security_headers_on_pages_and_api(client):
    for url in ("/login", "/api/openapi.json", "/health"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain http: HSTS would be meaningless


def test_hsts_behind_https_and_secure_session_cookie(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SESSION_COOKIE_SECURE": True,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/db.sqlite", "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    resp = client.get("/login", base_url="https://localhost")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = resp.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_proxy_headers_are_honoured_only_when_trusted(tmp_path):
    headers = {"X-Forwarded-Proto": "https"}
    url = f"sqlite:///{tmp_path}/db.sqlite"
    plain = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    assert "Strict-Transport-Security" not in plain.test_client().get("/health", headers=headers).headers
    proxied = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url, "TRUSTED_PROXIES": 1})
    assert "Strict-Transport-Security" in proxied.test_client().get("/health", headers=headers).headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_serves_with_several_workers(tmp_path):
    """The production command: gunicorn.conf.py, 2 workers, JSON access lines on stderr, clean stop."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/prod.db", "SECRET_KEY": "k" * 32,
           "PORT": str(free_port()), "WEB_CONCURRENCY": "2", "PYTHONPATH": str(ROOT)}
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        body = None
        for _ in range(300):  # wait for the workers to boot (bounded)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/health", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.1)
        assert body == {"status": "ok", "database": "ok", "schema_revision": migration_head()}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    text = log.read_text()
    assert text.count("Booting worker") == 2
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(e.get("path") == "/health" and e.get("status") == 200 for e in lines)
