"""Mail intake throughput: a real Dovecot mailbox of N messages read by `mail fetch` into cases.

Usage: PYTHONPATH=. python bench/mail_intake.py [--messages 1000] [--backend sqlite|postgresql|both] [--smoke]
PostgreSQL: a new database on the server of BENCH_DATABASE_URL (or TEST_DATABASE_URL), dropped afterwards.

Method: scripts/imap.sh starts a private Dovecot on a free port; the mailbox is filled by APPEND with N
messages (70 % new complaints from distinct senders, a third of them with a PDF; 20 % replies carrying only
In-Reply-To to the acknowledgment of a case opened by mail beforehand; 10 % automatic replies); then ONE
fetch pass (fetcher.fetch_once) reads,
ingests (one transaction per mail) and moves every message to the done folder. Reported: wall time of the
pass, mails per second, and the median and p95 time per mail (between two commits, IMAP reading included).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, machine, median_ms, p95_ms, prepare, table  # noqa: E402

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + b"0" * 20000


def build(n: int, kind: str, in_reply_to: str | None = None) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"Client {n} <client{n}@example.fr>"
    msg["To"] = "reclamations@example.org"
    msg["Message-ID"] = f"<bench-{kind}-{n}@example.fr>"
    if kind == "new":
        msg["Subject"] = f"Facture FA-{n:06d} : double prélèvement"
        msg.set_content(f"Bonjour,\nJ'ai été prélevé deux fois pour la facture FA-{n:06d}.\nMerci.\n")
        if n % 3 == 0:
            msg.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"facture-{n}.pdf")
    elif kind == "reply":
        msg["Subject"] = "Re: votre accusé de réception"
        msg["In-Reply-To"] = in_reply_to
        msg.set_content("Voici les précisions demandées.\n")
    else:
        msg["Subject"] = "Absence du bureau"
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("Je suis absent jusqu'au 4 janvier.\n")
    from email import policy

    return msg.as_bytes(policy=policy.SMTP)


def run(backend: str, messages: int) -> dict:
    from imapclient import IMAPClient
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Case, IngestedMail, OutboxMessage
    from app.services.mailbox import fetcher
    from app.services.messaging import outbox

    folder = Path(tempfile.mkdtemp(prefix="imapbench."))
    try:
        url = subprocess.run(["bash", str(ROOT / "scripts" / "imap.sh"), "start", str(folder)], check=True,
                             capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[-1]
        with fresh_database(backend) as db_url:
            app = prepare(db_url)
            app.config.update(IMAP_URL=url, ATTACHMENT_DIR=str(folder / "files"))
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            client = IMAPClient(parts.hostname, port=parts.port, ssl=False)
            client.login(parts.username, parts.password)
            new, replies = int(messages * 0.7), int(messages * 0.2)
            autos = messages - new - replies
            with app.app_context():
                # The cases replied to exist beforehand, with their acknowledgment's Message-ID.
                for n in range(replies):
                    client.append("INBOX", build(100000 + n, "new"))
                fetcher.fetch_once()
                acks = [outbox.message_id(m) for m in db.session.scalars(
                    select(OutboxMessage).order_by(OutboxMessage.id)).all()][:replies]
                raws = [build(n, "new") for n in range(new)] + [build(n, "reply", acks[n]) for n in range(replies)] \
                    + [build(n, "auto") for n in range(autos)]
                for raw in raws:
                    client.append("INBOX", raw)
                client.logout()
                before = db.session.scalar(select(func.count(Case.id)))
                stamps = []
                start = time.perf_counter()
                report = fetcher.fetch_once(after_commit=lambda _o: stamps.append(time.perf_counter()))
                wall = time.perf_counter() - start
                gaps = [b - a for a, b in zip([start] + stamps[:-1], stamps, strict=True)]
                counts = report.counts()
                opened = db.session.scalar(select(func.count(Case.id))) - before
                rows = db.session.scalar(select(func.count(IngestedMail.id)))
                assert counts["case_opened"] == new and counts["threaded"] == replies, counts
                assert counts["auto_reply"] == autos and opened == new and rows == replies + messages, (counts, rows)
                db.session.remove()
                db.engine.dispose()
        return {"backend": backend, "messages": len(report.outcomes), "wall": wall, "rate": len(gaps) / wall,
                "median": median_ms(gaps), "p95": p95_ms(gaps), "counts": dict(counts)}
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "imap.sh"), "stop", str(folder)], capture_output=True,
                       timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--smoke", action="store_true", help="20 messages on SQLite: checks the script runs")
    args = parser.parse_args()
    messages = 20 if args.smoke else args.messages
    backends = ["sqlite"] if args.smoke else (["sqlite", "postgresql"] if args.backend == "both" else [args.backend])
    info = machine()
    print(f"Machine: {info['nproc']} CPU ({info['cpu']}), {info['ram']} RAM, Python {info['python']}, "
          f"{info['postgresql']}; load average {open('/proc/loadavg').read().split()[0]}")
    print("Method: " + " ".join(__doc__.split("Method: ", 1)[1].split()))
    results = [run(b, messages) for b in backends]
    print(table(f"Mail intake, one fetch pass over a mailbox of {messages} messages",
                ["backend", "messages", "wall (s)", "mails/s", "median per mail (ms)", "p95 (ms)"],
                [[{"sqlite": "SQLite", "postgresql": "PostgreSQL"}[r["backend"]], r["messages"], r["wall"], r["rate"],
                  r["median"], r["p95"]] for r in results]))
    for r in results:
        print(f"{r['backend']}: {r['counts']}")


if __name__ == "__main__":
    main()
