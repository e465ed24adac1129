"""A live server and a chromium browser for page tests (Playwright), shared by browser test modules."""

import contextlib
import json
import os
import shutil
import socket
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM)) or Path(CHROMIUM).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app on a free port with a SQLite file database, the shipped processes deployed; stop() ends it."""

    def __init__(self, folder: Path, users=("accueil", "gestionnaire", "proprietaire", "auditeur", "admin")):
        from werkzeug.serving import make_server

        from app import clock, create_app
        from app.extensions import db
        from app.services.core.definitions import deploy_files
        from tests.support.setup import START, make_users

        self.app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'app.db'}",
                               "SECRET_KEY": "browser", "RATELIMIT_ENABLED": False})
        clock.set_now(START)
        with self.app.app_context():
            db.create_all()
            make_users(users)
            deploy_files(sorted((ROOT / "processes").glob("*.bpmn")), "test")
        self.httpd = make_server("127.0.0.1", free_port(), self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        from app import clock
        from app.extensions import db

        self.httpd.shutdown()
        self.thread.join(timeout=10)
        clock.set_now(None)
        with self.app.app_context():
            db.engine.dispose()


def login(browser, base: str, username: str):
    """A new browser context logged in as username; returns (page, errors seen by the page)."""
    context = browser.new_context(base_url=base)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "404" not in msg.text
            else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page, errors


def api_token(page, username: str) -> str:
    resp = page.context.request.post("/api/login", data=json.dumps({"username": username, "password": "demo"}),
                                     headers={"Content-Type": "application/json"})
    return resp.json()["token"]


@contextlib.contextmanager
def chromium():
    """Debian's chromium launched once (for a module-scoped fixture), closed afterwards."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def definition_id(server: LiveServer, key: str = "reclamation") -> int:
    """The id of the active version of a process on the live server."""
    from app.services.core.definitions import active

    with server.app.app_context():
        return active(key).id
