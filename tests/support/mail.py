"""A real SMTP sink (aiosmtpd) on a free port, and a PDF's text through poppler's pdftotext."""

from __future__ import annotations

import socket
import subprocess
import threading
from email import message_from_bytes, policy


class Sink:
    """An SMTP handler that keeps what it receives."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink() -> tuple[Sink, object, int]:
    """Start a sink on a free port; the caller stops the controller."""
    from aiosmtpd.controller import Controller

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller, port


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF as pdftotext (poppler-utils) reads it, spaces of every kind made plain."""
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60)
    return out.stdout.decode("utf-8").replace("\u00a0", " ").replace("\u202f", " ")


class SmtpSink:
    """A running aiosmtpd server keeping what it receives, set as the app's SMTP_URL; a context manager."""

    def __init__(self, app):
        from aiosmtpd.controller import Controller

        self.sink, self.port = Sink(), free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.app = app

    def __enter__(self) -> Sink:
        self.controller.start()
        self.app.config["SMTP_URL"] = f"smtp://127.0.0.1:{self.port}?timeout=5"
        return self.sink

    def __exit__(self, *exc) -> None:
        self.controller.stop()
