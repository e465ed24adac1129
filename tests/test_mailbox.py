"""Incoming e-mail against a real Dovecot server: new cases, threaded replies that wake the waiting step,
the acknowledgment threaded back, duplicates, automatic replies, bounces, quarantine, a fetcher killed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, AuditEvent, Case, CaseClock, IngestedMail, Notification, OutboxMessage, TaskRow
from app.services.mailbox import fetcher
from app.services.messaging import outbox
from tests.support.flows import do
from tests.support.mails import PDF, dsn, mail, message_id_of

pytestmark = pytest.mark.usefixtures("deployed", "rollup_checked")
QUALIFY = {"admissible": "yes", "category": "billing", "severity": "medium"}
DONE = "Traités"


def fetch():
    report = fetcher.fetch_once()
    db.session.expire_all()
    return report


def cases() -> list[Case]:
    return list(db.session.scalars(select(Case).order_by(Case.id)))


def events(case: Case, type_: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.case_id == case.id)
    if type_:
        query = query.where(AuditEvent.type == type_)
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def ready(case: Case) -> list[str]:
    return sorted(db.session.scalars(select(TaskRow.bpmn_id).where(TaskRow.case_id == case.id,
                                                                   TaskRow.state == "ready")))


def test_a_mail_becomes_a_case_with_its_attachments_and_the_acknowledgment_answers_it(mailbox, smtp_sink):
    raw = mail(text=None, html="<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
                               "<p>Bonjour,</p><p>J&#39;ai &eacute;t&eacute; pr&eacute;lev&eacute; <b>deux fois</b>."
                               "</p><ul><li>FA-2026-0042</li></ul></body></html>",
               files=[("facture.pdf", "application/pdf", PDF), ("outil.exe", "application/octet-stream", b"MZ\x90")])
    mailbox.append(raw)
    report = fetch()
    assert [o.status for o in report.outcomes] == ["case_opened"]
    [case] = cases()
    assert (case.channel, case.customer_name, case.customer_email) == ("email", "Jean Dupont",
                                                                     "jean.dupont@example.fr")
    assert case.data["written"] == "yes" and case.data["mail_subject"].startswith("Facture FA-2026-0042")
    description = case.data["description"]
    assert "J'ai été prélevé deux fois." in description and "FA-2026-0042" in description
    assert "<" not in description and "alert" not in description and "color" not in description
    [pdf] = events(case, "complainant_attachment")
    assert pdf.data["filename"] == "facture.pdf" and pdf.data["channel"] == "email"
    [refused] = events(case, "mail_attachment_refused")
    assert refused.data["filename"] == "outil.exe" and "non accepté" in refused.data["reason"]
    [eml] = db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
    assert eml.filename.endswith(".eml") and eml.size == len(raw) and eml.content_type == "message/rfc822"
    # The mailbox: moved to the done folder only now, never deleted.
    assert mailbox.uids("INBOX") == [] and mailbox.messages(DONE) and len(mailbox.messages(DONE)) == 1

    outbox.send_pending()
    [(rcpt, ack)] = smtp_sink.messages
    assert rcpt == ["jean.dupont@example.fr"]
    assert ack["In-Reply-To"] == message_id_of(raw) and message_id_of(raw) in ack["References"]
    assert f"[{case.reference}]" in ack["Subject"] and ack["Auto-Submitted"] == "auto-generated"


def test_a_reply_with_only_in_reply_to_lands_on_its_case_and_wakes_the_waiting_step(mailbox, smtp_sink, api,
                                                                                  client):
    mailbox.append(mail())
    fetch()
    [case] = cases()
    do(api, case.reference, "ut_qualify", "gestionnaire", QUALIFY)
    do(api, case.reference, "ut_analyse", "service", {"facts": "x", "systemic": "no", "needs_information": "yes",
                                                      "information_request": "Copie du relevé"})
    db.session.expire_all()
    assert ready(case) == ["ut_await_info"]
    [answer_clock] = db.session.scalars(select(CaseClock).where(CaseClock.case_id == case.id,
                                                                 CaseClock.name == "answer")).all()
    assert answer_clock.paused_at is not None
    outbox.send_pending()
    ack = smtp_sink.messages[0][1]
    reply = mail(subject="Re: votre courrier", text="Voici mon relevé.\n\n> texte cité",
                 headers={"In-Reply-To": ack["Message-ID"]},
                 files=[("releve.pdf", "application/pdf", PDF)])
    mailbox.append(reply)
    report = fetch()
    assert [(o.status, o.reference) for o in report.outcomes] == [("threaded", case.reference)]
    assert len(cases()) == 1
    [message] = events(case, "complainant_message")
    assert message.data["text"].startswith("Voici mon relevé.") and message.data["threaded_by"] == "in_reply_to"
    assert [e.data["filename"] for e in events(case, "complainant_attachment")] == ["releve.pdf"]
    # The BPMN message event: the waiting step is over, the analysis is back, the paused clock runs again.
    assert ready(case) == ["ut_analyse"]
    assert [e.data["message"] for e in events(case, "message_received")] == ["complainant_reply"]
    db.session.refresh(answer_clock)
    assert answer_clock.paused_at is None and events(case, "clock_resumed")
    assert case.data["complainant_reply"]["text"].startswith("Voici mon relevé.")
    # Auditors can trust it: the case replays from its trail to the same state.
    from app.services.audit.verification import verify_and_record

    assert verify_and_record([case.reference], "test") == [(case.reference, [])]
    db.session.expire_all()
    holders = db.session.scalars(select(Notification.text).where(Notification.case_id == case.id)).all()
    assert any("répondu par e-mail" in t for t in holders)
    # Staff timeline and the public tracking page show it as the complainant's message, with its file.
    api.token("gestionnaire")
    client.post("/login", data={"username": "gestionnaire", "password": "demo"})
    page = client.get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert "Voici mon relevé." in page and "releve.pdf" in page
    tracking = client.get(f"/suivi/{case.tracking_token}").get_data(as_text=True)
    assert "Voici mon relevé." in tracking and "releve.pdf" in tracking


def test_a_reply_by_subject_reference_threads_only_from_the_case_complainant(mailbox):
    mailbox.append(mail())
    fetch()
    [case] = cases()
    mailbox.append(mail(subject=f"Re: [{case.reference}] suite", text="Complément."))
    mailbox.append(mail(sender="intrus@example.com", subject=f"[{case.reference}] injection", text="Pirate."))
    report = fetch()
    assert [o.status for o in report.outcomes] == ["threaded", "case_opened"]
    assert [e.data["text"] for e in events(case, "complainant_message")] == ["Complément."]
    assert len(cases()) == 2 and cases()[1].customer_email == "intrus@example.com"


def test_a_forged_outbox_message_id_threads_nothing(mailbox):
    mailbox.append(mail())
    fetch()
    [case] = cases()
    [ack] = db.session.scalars(select(OutboxMessage)).all()
    forged = f"<outbox-{ack.id}-{case.id}.0000000000000000@example.org>"
    mailbox.append(mail(sender="autre@example.com", subject="Bonjour", text="Autre chose.",
                        headers={"In-Reply-To": forged}))
    fetch()
    assert len(cases()) == 2 and events(case, "complainant_message") == []


def test_the_same_mail_fetched_twice_yields_one_case(mailbox):
    raw = mail()
    mailbox.append(raw)
    first = fetch()
    mailbox.append(raw)  # a restored mailbox, or a fetcher that crashed before moving it
    no_id = mail(message_id=None, subject="Sans identifiant", text="Message sans Message-ID.")
    mailbox.append(no_id)
    mailbox.append(no_id)
    second = fetch()
    assert [o.status for o in first.outcomes] == ["case_opened"]
    assert [(o.duplicate, o.status) for o in second.outcomes] == [(True, "case_opened"), (False, "case_opened"),
                                                                  (True, "case_opened")]
    assert len(cases()) == 2 and db.session.scalar(select(func.count(IngestedMail.id))) == 2
    assert mailbox.uids("INBOX") == [] and len(mailbox.messages(DONE)) == 4


@pytest.mark.parametrize("headers, sender", [
    ({"Auto-Submitted": "auto-replied"}, "Jean Dupont <jean.dupont@example.fr>"),
    ({"X-Autoreply": "yes"}, "Jean Dupont <jean.dupont@example.fr>"),
    ({"X-Autorespond": "yes"}, "Jean Dupont <jean.dupont@example.fr>"),
    ({"Precedence": "bulk"}, "Jean Dupont <jean.dupont@example.fr>"),
    ({"List-Id": "<annonces.example.fr>"}, "Liste <annonces@example.fr>"),
    ({}, "MAILER-DAEMON@mx.example.fr"),
    ({}, "postmaster@example.fr"),
])
def test_automatic_replies_are_recorded_but_open_nothing_and_get_no_acknowledgment(mailbox, headers, sender):
    mailbox.append(mail(sender=sender, subject="Absence du bureau", headers=headers))
    report = fetch()
    assert [o.status for o in report.outcomes] == ["auto_reply"]
    assert cases() == [] and db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    [row] = db.session.scalars(select(IngestedMail)).all()
    assert row.reason and mailbox.uids("INBOX") == []


def test_an_out_of_office_answer_to_our_acknowledgment_is_noted_on_the_case_only(mailbox):
    mailbox.append(mail())
    fetch()
    [case] = cases()
    [ack] = db.session.scalars(select(OutboxMessage)).all()
    mailbox.append(mail(subject="Absent", headers={"Auto-Submitted": "auto-replied",
                                                   "In-Reply-To": outbox.message_id(ack)}))
    fetch()
    assert len(cases()) == 1 and [e.type for e in events(case, "mail_auto_reply")] == ["mail_auto_reply"]
    assert events(case, "complainant_message") == []
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # no answer to an answering machine


def test_a_bounce_marks_the_outgoing_message_failed_and_tells_the_holders(mailbox, smtp_sink):
    mailbox.append(mail())
    fetch()
    [case] = cases()
    outbox.send_pending()
    ack = smtp_sink.messages[0][1]
    mailbox.append(dsn(ack["Message-ID"]))
    report = fetch()
    assert [o.status for o in report.outcomes] == ["bounce"] and len(cases()) == 1
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert message.status == "failed" and "5.1.1" in message.last_error
    [bounced] = events(case, "message_bounced")
    assert bounced.data["outbox_id"] == message.id and bounced.data["status"] == "5.1.1"
    notes = db.session.scalars(select(Notification).where(Notification.case_id == case.id)).all()
    assert any("non remis" in n.text and n.kind == "escalation" for n in notes)
    # A delay report is not a failure: nothing changes.
    mailbox.append(dsn(ack["Message-ID"], action="delayed", status="4.4.1").replace(b"<dsn-", b"<dsn-delay-"))
    fetch()
    assert len(cases()) == 1


def test_a_mail_too_large_is_quarantined_then_released_by_staff(mailbox, app):
    from app.services.mailbox import quarantine
    from app.services.people.users import by_username

    big = mail(files=[("scan.pdf", "application/pdf", PDF + b"0" * (30 * 1024 * 1024))])
    mailbox.append(big)
    report = fetch()
    assert [o.status for o in report.outcomes] == ["quarantined"]
    assert "trop volumineux" in report.outcomes[0].reason and cases() == []
    assert mailbox.uids("INBOX") == [] and len(mailbox.messages(DONE)) == 1
    [row] = quarantine.list_mails(by_username("accueil"))
    outcome = quarantine.release(by_username("accueil"), row.row.id)
    db.session.expire_all()
    assert outcome.status == "case_opened" and len(cases()) == 1
    [case] = cases()
    # The case is opened; the oversized file is refused under the attachment rules, the .eml is kept.
    assert [e.data["filename"] for e in events(case, "mail_attachment_refused")] == ["scan.pdf"]
    assert db.session.scalars(select(Attachment.size).where(Attachment.case_id == case.id)).all() == [len(big)]
    assert db.session.get(IngestedMail, row.row.id).handled_by == "accueil"


def test_a_malformed_mime_message_is_quarantined_and_can_be_discarded(mailbox, app):
    from app.services.core.errors import Conflict
    from app.services.mailbox import quarantine
    from app.services.people.users import by_username

    broken = (b"From: Jean <jean.dupont@example.fr>\r\nSubject: casse\r\nMessage-ID: <broken@example.fr>\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nnot really mime\r\n")
    mailbox.append(broken)
    mailbox.append(mail(sender="spam@bad.example", subject="Offre"))
    app.config["MAIL_BLOCKED_SENDERS"] = "@bad.example"
    report = fetch()
    assert [o.status for o in report.outcomes] == ["quarantined", "quarantined"]
    assert "MIME" in report.outcomes[0].reason and "bloqué" in report.outcomes[1].reason
    assert cases() == [] and mailbox.uids("INBOX") == []
    with pytest.raises(Exception, match="Réservé"):
        quarantine.discard(by_username("service"), report.outcomes[0].mail_id)
    quarantine.discard(by_username("accueil"), report.outcomes[0].mail_id)
    assert db.session.get(IngestedMail, report.outcomes[0].mail_id).status == "discarded"
    with pytest.raises(Conflict):
        quarantine.release(by_username("accueil"), report.outcomes[0].mail_id)


def test_a_fetcher_killed_after_the_third_commit_loses_and_duplicates_nothing(mailbox):
    raws = [mail(sender=f"Client {i} <client{i}@example.fr>", subject=f"Demande {i}", text=f"Texte {i}")
            for i in range(5)]
    for raw in raws:
        mailbox.append(raw)
    seen = []

    def crash(outcome):
        seen.append(outcome)
        if len(seen) == 3:
            raise SystemExit("killed")  # after message 3's commit, before the mailbox is changed

    with pytest.raises(SystemExit):
        fetcher.fetch_once(after_commit=crash)
    db.session.expire_all()
    assert len(cases()) == 3 and len(mailbox.uids("INBOX")) == 5  # nothing moved before the crash
    report = fetch()
    assert [o.duplicate for o in report.outcomes] == [True, True, True, False, False]
    assert sorted(c.customer_email for c in cases()) == [f"client{i}@example.fr" for i in range(5)]
    assert mailbox.uids("INBOX") == [] and len(mailbox.messages(DONE)) == 5


def test_without_move_the_fetcher_copies_flags_and_expunges_its_own_messages(mailbox, monkeypatch):
    from app.services.mailbox import imap

    original = imap.Mailbox.__init__

    def no_move(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.can_move = False

    monkeypatch.setattr(imap.Mailbox, "__init__", no_move)
    mailbox.append(mail())
    fetch()
    assert len(cases()) == 1 and mailbox.uids("INBOX") == [] and len(mailbox.messages(DONE)) == 1


def test_staff_open_release_and_discard_quarantined_mail_on_their_page(mailbox, app, client):
    app.config["MAIL_BLOCKED_SENDERS"] = "bloque@example.fr; @spam.example"
    mailbox.append(mail(sender="Bloqué <bloque@example.fr>", subject="<script>alert(1)</script> Objet",
                        text="Texte <b>brut</b> de la réclamation."))
    mailbox.append(mail(sender="offre@spam.example", subject="Promotion"))
    first, second = fetch().outcomes
    client.post("/login", data={"username": "service", "password": "demo"})
    assert client.get("/courriels/").status_code == 403
    client.get("/logout")
    client.post("/login", data={"username": "accueil", "password": "demo"})
    page = client.get("/courriels/").get_data(as_text=True)
    assert "Quarantaine (2)" in page and "Expéditeur bloqué" in page and "<script>alert" not in page
    detail = client.get(f"/courriels/{first.mail_id}").get_data(as_text=True)
    assert "Texte &lt;b&gt;brut&lt;/b&gt; de la réclamation." in detail and "Relâcher" in detail
    released = client.post(f"/courriels/{first.mail_id}/relacher", follow_redirects=True).get_data(as_text=True)
    [case] = cases()
    assert f"Courriel relâché : Dossier ouvert ({case.reference})." in released
    assert case.customer_email == "bloque@example.fr" and case.channel == "email"
    again = client.post(f"/courriels/{first.mail_id}/relacher", follow_redirects=True).get_data(as_text=True)
    assert "plus en quarantaine" in again and len(cases()) == 1
    client.post(f"/courriels/{second.mail_id}/ecarter")
    db.session.expire_all()
    assert db.session.get(IngestedMail, second.mail_id).status == "discarded"
    journal = client.get("/courriels/?vue=tous").get_data(as_text=True)
    assert "Écarté" in journal and "Dossier ouvert" in journal and case.reference in journal
    client.get("/logout")
    client.post("/login", data={"username": "auditeur", "password": "demo"})
    assert client.get("/courriels/").status_code == 200
    assert client.post(f"/courriels/{second.mail_id}/ecarter").status_code == 403


CHILD = """
import json, os, signal, sys
from app import create_app
from app.services.mailbox import fetcher
config = json.loads(sys.argv[1])
app = create_app(config)
seen = []
def kill(outcome):
    seen.append(outcome)
    if len(seen) == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # killed right after message 3 committed
with app.app_context():
    fetcher.fetch_once(after_commit=kill)
"""


def test_a_fetcher_process_killed_mid_batch_loses_and_duplicates_nothing(mailbox, app):
    import json
    import os
    import signal
    import subprocess
    import sys

    from tests.support.setup import ROOT

    for i in range(5):
        mailbox.append(mail(sender=f"client{i}@example.fr", subject=f"Demande {i}", text=f"Texte {i}"))
    db.session.commit()
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "PROCESSES_DIR", "ATTACHMENT_DIR",
                                         "IMAP_URL", "RATELIMIT_ENABLED")}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(config)], cwd=ROOT, capture_output=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    db.session.expire_all()
    assert len(cases()) == 3 and len(mailbox.uids("INBOX")) == 5
    report = fetch()
    assert sum(o.duplicate for o in report.outcomes) == 3 and len(cases()) == 5
    assert mailbox.uids("INBOX") == [] and len(mailbox.messages(DONE)) == 5


def test_two_fetchers_at_once_give_each_mail_once(mailbox, app):
    import threading

    for i in range(8):
        mailbox.append(mail(sender=f"client{i}@example.fr", subject=f"Demande {i}", text=f"Texte {i}"))
    db.session.commit()
    errors = []

    def run():
        with app.app_context():
            try:
                fetcher.fetch_once()
            except Exception as exc:  # noqa: BLE001 - SQLite may refuse a concurrent writer: that pass stops
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    fetch()  # whatever a stopped pass left in the folder
    assert sorted(c.customer_email for c in cases()) == [f"client{i}@example.fr" for i in range(8)]
    assert db.session.scalar(select(func.count(IngestedMail.id))) == 8
    assert mailbox.uids("INBOX") == [] and len(mailbox.messages(DONE)) == 8


def test_the_same_mail_ingested_twice_at_the_same_moment_gives_one_case(app):
    """Two fetchers racing on one message (no mailbox lock): the unique key lets one through."""
    import threading

    from app.services.mailbox.intake import ingest

    raws = [mail(sender=f"client{i}@example.fr", subject=f"Demande {i}", text=f"Texte {i}") for i in range(4)]
    db.session.commit()
    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        with app.app_context():
            try:
                for raw in raws:
                    barrier.wait(30)
                    results.append(ingest(raw))
            except Exception as exc:  # noqa: BLE001 - SQLite may refuse the concurrent writer ("locked")
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for raw in raws:  # what a refused writer did not do, a next pass does (or finds done)
        ingest(raw)
    db.session.expire_all()
    assert sorted(c.customer_email for c in cases()) == [f"client{i}@example.fr" for i in range(4)]
    assert db.session.scalar(select(func.count(IngestedMail.id))) == 4
    assert all(o.status == "case_opened" for o in results)


def test_every_email_we_send_is_threaded_to_the_conversation(mailbox, smtp_sink, api):
    from app.services.public.intake import resend_link
    from tests.support.flows import complaint_data, start

    # A case filed by staff (no mail from the complainant yet): our e-mails thread to each other.
    ref = start(api, **complaint_data(customer_email="web@example.fr"))["reference"]
    outbox.send_pending()
    resend_link(ref, "web@example.fr")
    outbox.send_pending()
    first, second = (m for _r, m in smtp_sink.messages)
    assert first["In-Reply-To"] is None and f"[{ref}]" in first["Subject"] and f"[{ref}]" in second["Subject"]
    assert second["In-Reply-To"] == first["Message-ID"] and second["References"] == first["Message-ID"]
    # Once the complainant writes, our next e-mail answers their last message, with its References chain.
    reply = mail(sender="web@example.fr", subject=f"Re: [{ref}]", text="Merci.",
                 headers={"In-Reply-To": second["Message-ID"],
                          "References": f"{first['Message-ID']} {second['Message-ID']}"})
    mailbox.append(reply)
    fetch()
    resend_link(ref, "web@example.fr")
    outbox.send_pending()
    third = smtp_sink.messages[-1][1]
    assert third["In-Reply-To"] == message_id_of(reply)
    assert third["References"].split() == [first["Message-ID"], second["Message-ID"], message_id_of(reply)]
    assert len({m["Message-ID"] for _r, m in smtp_sink.messages}) == 3


def test_on_postgresql_a_second_fetcher_skips_a_mailbox_being_read(mailbox, backend):
    if backend != "postgresql":
        pytest.skip("the mailbox lock is PostgreSQL's advisory lock")
    from app.services.mailbox.fetcher import _one_fetcher, configured

    mailbox.append(mail())
    with _one_fetcher(configured()) as first:
        assert first is True
        report = fetcher.fetch_once()
        assert report.skipped and report.outcomes == [] and "passe sautée" in report.summary()
    assert [o.status for o in fetch().outcomes] == ["case_opened"]


def test_imaps_and_starttls_with_a_verified_certificate(mailbox, app):
    if mailbox.imaps_url is None:
        pytest.skip("openssl is not installed: the test server has no certificate")
    mailbox.append(mail(subject="Par TLS", text="Un."))
    app.config["IMAP_URL"] = f"{mailbox.imaps_url}?cafile={mailbox.cafile}"
    assert [o.status for o in fetch().outcomes] == ["case_opened"]
    mailbox.append(mail(sender="autre@example.fr", subject="Par STARTTLS", text="Deux."))
    app.config["IMAP_URL"] = f"{mailbox.url}?starttls=1&cafile={mailbox.cafile}"
    assert [o.status for o in fetch().outcomes] == ["case_opened"]
    # A certificate nobody vouches for is refused: nothing read, nothing moved.
    mailbox.append(mail(sender="troisieme@example.fr", subject="Refusé", text="Trois."))
    app.config["IMAP_URL"] = mailbox.imaps_url
    import ssl

    with pytest.raises(ssl.SSLError):
        fetcher.fetch_once()
    assert len(cases()) == 2 and len(mailbox.uids("INBOX")) == 1
