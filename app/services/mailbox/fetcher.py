"""One pass of the mail fetcher: read the waiting messages in chunks, ingest each in its own transaction,
then move the committed ones to the done folder. A fetcher killed anywhere loses nothing: a message leaves
the folder only after its transaction committed, and one fetched again is recognised (ingested_mail)."""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app
from imapclient.exceptions import IMAPClientError
from sqlalchemy import text as sql

from app.extensions import db
from app.services.mailbox import imap
from app.services.mailbox.intake import Outcome, ingest

CHUNK_BYTES = 32 * 1024 * 1024  # read at most this much per FETCH (one large message goes alone)
CHUNK_COUNT = 50
log = logging.getLogger("reclamations.mailbox")


@dataclass
class FetchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    move_errors: int = 0
    skipped: bool = False  # another fetcher was reading this mailbox

    def counts(self) -> Counter:
        return Counter("duplicate" if o.duplicate else o.status for o in self.outcomes)

    def summary(self) -> str:
        if self.skipped:
            return "Relève déjà en cours par un autre processus : passe sautée."
        counts = self.counts()
        labels = (("case_opened", "dossiers ouverts"), ("merged", "rattachés"), ("threaded", "réponses"),
                  ("auto_reply", "réponses automatiques"), ("bounce", "avis de non-remise"),
                  ("quarantined", "en quarantaine"), ("duplicate", "déjà traités"))
        return f"Courriels relevés : {len(self.outcomes)} (" + ", ".join(
            f"{label} : {counts.get(key, 0)}" for key, label in labels) + ")"


def configured() -> imap.ImapConfig | None:
    url = current_app.config.get("IMAP_URL")
    return imap.parse_imap_url(url) if url else None


def _chunks(pending: dict[int, int]) -> list[list[int]]:
    chunks, current, size = [], [], 0
    for uid, length in pending.items():
        if current and (size + length > CHUNK_BYTES or len(current) >= CHUNK_COUNT):
            chunks.append(current)
            current, size = [], 0
        current.append(uid)
        size += length
    if current:
        chunks.append(current)
    return chunks


def fetch_once(limit: int | None = None, *, after_commit=None) -> FetchReport:
    """Ingest the messages waiting in the IMAP folder (at most `limit`); `after_commit(outcome)` is a test hook
    called after each message's transaction, before the mailbox is changed."""
    config = configured()
    report = FetchReport()
    if config is None:
        return report
    done_folder = current_app.config.get("IMAP_DONE_FOLDER") or imap.DEFAULT_DONE_FOLDER
    with _one_fetcher(config) as alone:
        if not alone:
            report.skipped = True
            return report
        _fetch(config, done_folder, limit, after_commit, report)
    return report


@contextmanager
def _one_fetcher(config: imap.ImapConfig):
    """On PostgreSQL, one pass per mailbox at a time (a session advisory lock on its own connection, released
    if the fetcher dies): a second fetcher skips the pass instead of copying the same messages twice. The
    ingested_mail key keeps every mail once whatever happens; this only keeps the done folder clean."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    key = "mail-fetch:" + config.describe()
    # Autocommit: the lock belongs to the connection's session, no transaction stays open beside the pass.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = conn.execute(sql("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": key}).scalar()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(sql("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": key})


def _fetch(config, done_folder: str, limit, after_commit, report: FetchReport) -> None:
    with imap.Mailbox(config, done_folder) as box:
        pending = box.pending()
        uids = list(pending)[:limit] if limit else list(pending)
        for chunk in _chunks({uid: pending[uid] for uid in uids}):
            fetched = box.fetch(chunk)
            processed = []
            for uid in chunk:
                if uid not in fetched:
                    continue  # moved by another fetcher meanwhile
                outcome = ingest(fetched.pop(uid), source=box.source(uid))
                report.outcomes.append(outcome)
                processed.append(uid)
                if after_commit is not None:
                    after_commit(outcome)
            try:
                box.done(processed)
            except IMAPClientError as exc:  # recorded already: the next pass sees them as duplicates and moves them
                report.move_errors += 1
                log.warning("processed mails not moved to %s: %s", done_folder, exc)
