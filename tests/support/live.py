"""A real HTTP server for browser tests and screenshots: the app in a thread on a free loopback port."""

import contextlib
import os
import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # the app logs its own requests
        pass


class LiveServer:
    """Serve a Flask app on 127.0.0.1 with an OS-chosen free port; stop() shuts it down and joins the thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def launch(playwright):
    """Debian's chromium with the flags that keep it off the network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def serve(app, backend: str, what: str = "the browser journey"):
    """The app served live with its real forms (CSRF on), once: on SQLite only (skipped on other backends)."""
    if backend != "sqlite":
        pytest.skip(f"{what} runs once, on SQLite")
    app.config["WTF_CSRF_ENABLED"] = True  # the real forms, tokens included
    with LiveServer(app) as server:
        yield server


@contextlib.contextmanager
def browser_page(viewport=None, init_script: str | None = None, **context_options):
    """A French chromium page (15 s timeout) in a fresh context, closed with its browser afterwards."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900}, locale="fr-FR",
                                      **context_options)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
