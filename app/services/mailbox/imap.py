"""The IMAP side: IMAP_URL, a connection (IMAPClient), the messages waiting in the folder, and moving the
processed ones to the done folder (MOVE, or COPY + \\Deleted + UID EXPUNGE where MOVE is missing). Messages
are read with BODY.PEEK (never marked read by reading) and never deleted."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

DEFAULT_DONE_FOLDER = "Traités"


@dataclass
class ImapConfig:
    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    ssl: bool = True
    starttls: bool = False
    timeout: float = 30.0
    cafile: str | None = None  # a private CA's certificate (PEM) to trust instead of the system's

    def describe(self) -> str:
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str) -> ImapConfig:
    """imaps://user:pass@host:993/INBOX, or imap://user:pass@host:143/INBOX?starttls=1 (and `cafile=PATH` for a
    private CA, `timeout=SECONDS`); ValueError if malformed. Certificates are always verified."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ValueError("IMAP_URL attendu sous la forme imaps://utilisateur:motdepasse@hôte:993/INBOX")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return ImapConfig(
        host=parts.hostname, port=parts.port or (993 if parts.scheme == "imaps" else 143),
        username=unquote(parts.username), password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX", ssl=parts.scheme == "imaps",
        starttls=query.get("starttls", "").lower() in ("1", "true", "yes", "on"),
        timeout=float(query.get("timeout", 30)), cafile=query.get("cafile") or None)


class Mailbox:
    """One IMAP session on the intake folder."""

    def __init__(self, config: ImapConfig, done_folder: str = DEFAULT_DONE_FOLDER):
        self.config = config
        self.done_folder = done_folder
        context = ssl.create_default_context(cafile=config.cafile)
        self.client = IMAPClient(config.host, port=config.port, ssl=config.ssl, ssl_context=context,
                                 timeout=config.timeout)
        try:
            if config.starttls:
                self.client.starttls(context)
            self.client.login(config.username, config.password)
            if not self.client.folder_exists(done_folder):
                try:
                    self.client.create_folder(done_folder)
                except IMAPClientError:
                    if not self.client.folder_exists(done_folder):  # another fetcher created it meanwhile
                        raise
            self.client.select_folder(config.folder)
            self.uidvalidity = self.client.folder_status(config.folder, ["UIDVALIDITY"]).get(b"UIDVALIDITY")
        except Exception:
            self.close()
            raise
        self.can_move = self.client.has_capability("MOVE")
        self.can_uid_expunge = self.client.has_capability("UIDPLUS")

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.client.logout()
        except (IMAPClientError, OSError):
            pass

    def pending(self) -> dict[int, int]:
        """UID -> size of every message waiting in the folder (not flagged \\Deleted), oldest first."""
        uids = self.client.search(["NOT", "DELETED"])
        if not uids:
            return {}
        sizes = self.client.fetch(uids, ["RFC822.SIZE"])
        return {uid: int(sizes[uid][b"RFC822.SIZE"]) for uid in sorted(sizes)}

    def fetch(self, uids: list[int]) -> dict[int, bytes]:
        """The raw bytes of these messages (a message gone meanwhile, moved by another fetcher, is absent)."""
        found = self.client.fetch(uids, ["BODY.PEEK[]"])
        return {uid: data[b"BODY[]"] for uid, data in found.items() if b"BODY[]" in data}

    def source(self, uid: int) -> str:
        return f"{self.config.describe()} uid {uid} (uidvalidity {self.uidvalidity})"

    def done(self, uids: list[int]) -> None:
        """Move processed messages to the done folder, marked read. Called only after their commit."""
        if not uids:
            return
        # Another fetcher may have moved some meanwhile: NOOP brings its expunges into this session's view, so
        # they are not copied a second time.
        self.client.noop()
        still = set(self.client.search(["UID", ",".join(str(u) for u in uids), "NOT", "DELETED"]))
        uids = [u for u in uids if u in still]
        if not uids:
            return
        self.client.add_flags(uids, [b"\\Seen"], silent=True)
        if self.can_move:
            self.client.move(uids, self.done_folder)
            return
        self.client.copy(uids, self.done_folder)
        self.client.add_flags(uids, [b"\\Deleted"], silent=True)
        if self.can_uid_expunge:  # only ours: a plain EXPUNGE would also remove what others flagged \Deleted
            self.client.uid_expunge(uids)
