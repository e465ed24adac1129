"""A real IMAP server (Dovecot, scripts/imap.sh) started once per test session, and a fresh mailbox per test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "imap.sh"


@dataclass
class ImapServer:
    url: str
    host: str
    port: int
    username: str
    password: str
    imaps_url: str | None = None  # TLS from the start; its certificate is `cafile`
    cafile: str | None = None

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(self.username, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """APPEND one message; return its UID."""
        with self.client() as client:
            answer = client.append(folder, raw)
        return int(answer.split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return list(client.search(["NOT", "DELETED"]))

    def messages(self, folder: str) -> list[bytes]:
        """The raw messages of a folder, in UID order."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search(["NOT", "DELETED"])
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    def reset(self) -> None:
        """Empty the mailbox: every message of INBOX expunged, every other folder deleted."""
        with self.client() as client:
            for _flags, _delim, name in client.list_folders():
                if name.upper() == "INBOX":
                    continue
                client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()


def start_server(folder: Path) -> ImapServer:
    url = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], check=True, capture_output=True, text=True,
                         timeout=60).stdout.strip().splitlines()[-1]
    parts = urlsplit(url)
    imaps = folder / "imaps_url"
    return ImapServer(url, parts.hostname, parts.port, unquote(parts.username), unquote(parts.password),
                      imaps.read_text().strip() if imaps.exists() else None,
                      str(folder / "ca.pem") if (folder / "ca.pem").exists() else None)


def stop_server(folder: Path) -> None:
    subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], check=False, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def imap_server():
    """Dovecot on a free port in a temporary folder, for the whole session; stopped at its end."""
    folder = Path(tempfile.mkdtemp(prefix="imaptest."))
    try:
        yield start_server(folder)
    finally:
        stop_server(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mailbox(imap_server, app):
    """The session's server, emptied, configured as the app's IMAP_URL."""
    imap_server.reset()
    app.config["IMAP_URL"] = imap_server.url
    yield imap_server
