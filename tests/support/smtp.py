"""A real SMTP server for tests (aiosmtpd) on a free port, keeping what it receives."""

import socket
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Sink:
    """An SMTP handler that keeps (recipients, parsed message) of each mail received."""

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


def start_sink() -> tuple[Sink, Controller, int]:
    """Start a sink on a free port; the caller stops the controller."""
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller, port
