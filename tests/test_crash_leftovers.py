"""Crash leftovers: no orphan file after a failure or a kill between the write and the commit, a sweep that
finishes or removes what a crash left, and a retried form post (same idempotency key) that duplicates nothing."""

import io
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import Attachment, AuditEvent, Case, Comment, IdempotencyKey
from app.services.cases import files, notes
from app.services.core import audit, idempotency
from app.services.people.users import by_username
from tests.support.flows import complaint_data, do, start
from tests.support.pages import login, ready_task, start_case

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
KEY = "k" * 32


def folder(app) -> Path:
    return Path(app.config["ATTACHMENT_DIR"])


def names(app) -> list[str]:
    return sorted(p.name for p in folder(app).iterdir()) if folder(app).exists() else []


def age(path: Path, minutes: float) -> None:
    """Make a file look written `minutes` ago by the application clock."""
    moment = clock.now().timestamp() - minutes * 60
    os.utime(path, (moment, moment))


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# --- files --------------------------------------------------------------------------------------------------

def test_a_failed_transaction_leaves_no_file(app, deployed, api, monkeypatch):
    ref = start(api, **complaint_data())["reference"]

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        notes.add_attachment(by_username("gestionnaire"), ref, "facture.pdf", PDF)
    assert names(app) == [] and count(Attachment) == 0


def test_a_file_staged_in_a_nested_block_follows_the_outermost_transaction(app, ctx):
    from app.services.core.transaction import transaction

    with transaction():
        with transaction():  # a use case joining its caller's transaction (e.g. through idempotency.once)
            kept = files.stage(PDF)
        assert names(app) == [kept.name + ".part"]  # not published before the real commit
    assert names(app) == [kept.name]
    with pytest.raises(RuntimeError), transaction():
        with transaction():
            dropped = files.stage(PDF)
        raise RuntimeError("the caller fails after the nested block")
    assert names(app) == [kept.name] and not dropped.temporary.exists()


def test_a_kill_before_the_commit_leaves_a_temporary_file_the_sweep_removes(app, ctx):
    staged = files.stage(PDF)  # the process dies here: written, never committed
    assert names(app) == [staged.name + ".part"]
    age(staged.temporary, 61)
    young = files.stage(b"upload in progress")
    age(young.temporary, 5)
    report = files.sweep(60)
    assert report.removed == [staged.name] and report.published == []
    assert names(app) == [young.name + ".part"]  # an upload still in progress is left alone


def test_a_kill_between_the_commit_and_the_rename_is_finished(app, deployed, api, monkeypatch):
    ref = start(api, **complaint_data())["reference"]
    monkeypatch.setattr(files, "publish", lambda staged: None)  # the process dies right after the commit
    attachment = notes.add_attachment(by_username("gestionnaire"), ref, "facture.pdf", PDF)
    second = notes.add_attachment(by_username("gestionnaire"), ref, "autre.pdf", PDF)
    monkeypatch.undo()
    assert names(app) == sorted([attachment.stored_name + ".part", second.stored_name + ".part"])
    # Downloading finishes the interrupted rename; the sweep finishes the others (and removes nothing named).
    _row, path = notes.attachment_file(ref, attachment.id)
    assert path.read_bytes() == PDF and path.name == attachment.stored_name
    age(folder(app) / (second.stored_name + ".part"), 61)
    report = files.sweep(60)
    assert report.published == [second.stored_name] and report.removed == []
    assert names(app) == sorted([attachment.stored_name, second.stored_name])


def test_the_sweep_removes_old_unreferenced_files_only(app, deployed, api, client):
    ref = start(api, **complaint_data())["reference"]
    kept = notes.add_attachment(by_username("gestionnaire"), ref, "facture.pdf", PDF)
    token = db.session.scalars(select(Case.tracking_token).where(Case.reference == ref)).one()
    data = {"text": "Voici", "attachment": (io.BytesIO(PDF), "bon.pdf")}
    assert client.post(f"/suivi/{token}/ajout", data=data, content_type="multipart/form-data").status_code == 303
    [sent] = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "complainant_attachment")).all()
    orphan = folder(app) / ("ab" * 16)
    orphan.write_bytes(PDF)  # left by a crash of an older version, or copied by hand
    foreign = folder(app) / "README.txt"
    foreign.write_text("not ours")
    for path in folder(app).iterdir():
        age(path, 120)
    result = app.test_cli_runner().invoke(args=["files", "sweep", "--minutes", "60"])
    assert result.exit_code == 0 and "1 orphelins supprimés" in result.output
    assert names(app) == sorted([kept.stored_name, sent.data["stored_name"], "README.txt"])


def test_complainant_files_are_published_after_the_commit(app, deployed, api, client):
    ref = start(api, **complaint_data())["reference"]
    token = db.session.scalars(select(Case.tracking_token).where(Case.reference == ref)).one()
    data = {"text": "Voici", "attachment": (io.BytesIO(PDF), "bon.pdf")}
    assert client.post(f"/suivi/{token}/ajout", data=data, content_type="multipart/form-data").status_code == 303
    assert all(re.fullmatch(r"[0-9a-f]{32}", n) for n in names(app)) and len(names(app)) == 1


# --- idempotency keys ---------------------------------------------------------------------------------------

def test_forms_carry_a_fresh_idempotency_key(app, deployed, client):
    first = client.get("/reclamation").get_data(as_text=True)
    second = client.get("/reclamation").get_data(as_text=True)
    pattern = r'name="idempotency_key" value="([A-Za-z0-9_-]{32})"'
    assert re.search(pattern, first).group(1) != re.search(pattern, second).group(1)
    staff = login(app, "accueil")
    assert re.search(pattern, staff.get("/dossiers/nouveau/reclamation").get_data(as_text=True))


def test_a_retried_public_intake_opens_one_case(app, deployed, client):
    data = {"kind": "complaint", "origin": "external_customer", "customer_name": "Paul Girard",
            "customer_address": "3 rue des Lilas, Lyon", "description": "Coupure.", "idempotency_key": KEY}
    first = client.post("/reclamation", data=data)
    receipt = client.get("/reclamation/confirmation").get_data(as_text=True)
    again = app.test_client().post("/reclamation", data=data)  # the response was lost: the browser resends
    assert first.status_code == again.status_code == 303 and count(Case) == 1
    reference = db.session.scalars(select(Case.reference)).one()
    assert reference in receipt
    with app.test_client() as other:
        other.post("/reclamation", data=data)
        assert reference in other.get("/reclamation/confirmation").get_data(as_text=True)  # the original answer
    assert count(Case) == 1
    # Another key is another submission (a resubmission of the same text is then merged by the duplicate rules).
    client.post("/reclamation", data={**data, "idempotency_key": "z" * 32})
    assert count(IdempotencyKey) == 2


def test_a_retried_addition_and_survey_answer_count_once(app, deployed, api, client):
    ref = start(api, **complaint_data())["reference"]
    token = db.session.scalars(select(Case.tracking_token).where(Case.reference == ref)).one()
    for _ in range(2):
        resp = client.post(f"/suivi/{token}/ajout", data={"text": "Le bon de livraison.", "idempotency_key": KEY})
        assert resp.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.type == "complainant_message")) == 1
    page = client.get(f"/suivi/{token}").get_data(as_text=True)
    assert "déjà été enregistré" in page
    do(api, ref, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "high",
                                                 "department": "billing"})
    do(api, ref, "ut_analyse", "service", {"facts": "x", "root_cause": "y", "systemic": "no",
                                           "needs_information": "no"})
    do(api, ref, "ut_decide", "gestionnaire", {"decision": "accepted", "compensation": 1, "response_text": "Oui."})
    do(api, ref, "ut_reaction", "gestionnaire", {"reaction": "satisfied", "reaction_on": "2026-11-25",
                                                   "payment_blocked": "no"})
    answer = {"satisfaction_score": "4", "idempotency_key": "s" * 32}
    assert client.post(f"/suivi/{token}/enquete", data=answer).status_code == 303
    again = client.post(f"/suivi/{token}/enquete", data=answer)
    assert again.status_code == 303  # the original answer, not a 409 "already answered"
    assert "déjà été enregistré" in client.get(f"/suivi/{token}").get_data(as_text=True)


def test_retried_staff_posts_count_once(app, deployed):
    staff = login(app, "accueil")
    phone = {"channel": "phone", "origin": "external_customer", "kind": "complaint", "customer_name": "Paul Girard",
             "customer_phone": "06 12 34 56 78", "description": "Coupure.", "received_at": "2026-11-20",
             "written": "no", "idempotency_key": KEY}
    first = staff.post("/dossiers/nouveau/reclamation", data=phone)
    again = staff.post("/dossiers/nouveau/reclamation", data=phone)
    assert first.status_code == again.status_code == 302 and first.location == again.location
    assert count(Case) == 1
    reference = db.session.scalars(select(Case.reference)).one()

    g = login(app, "gestionnaire")
    for _ in range(2):
        g.post(f"/dossiers/{reference}/commentaires", data={"text": "À rappeler.", "idempotency_key": KEY})
        g.post(f"/dossiers/{reference}/pieces", data={"file": (io.BytesIO(PDF), "f.pdf"), "idempotency_key": KEY},
               content_type="multipart/form-data")
    assert count(Comment) == 1 and count(Attachment) == 1

    task = ready_task(db.session.scalars(select(Case)).one(), "ut_qualify")
    qualify = {"action": "complete", "admissible": "yes", "category": "billing", "severity": "high",
               "department": "billing", "idempotency_key": KEY}
    first = g.post(f"/taches/{task.id}", data=qualify)
    again = g.post(f"/taches/{task.id}", data=qualify)
    assert first.status_code == again.status_code == 302  # not a 409 "already completed by gestionnaire"
    page = g.get("/taches/").get_data(as_text=True)
    assert "terminée une seconde fois" in page
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.type == "task_completed")) == 1


def test_keys_are_scoped_to_the_form_and_the_user(app, deployed):
    case = start_case()
    for user in ("gestionnaire", "service"):
        login(app, user).post(f"/dossiers/{case.reference}/commentaires", data={"text": "Vu.", "idempotency_key": KEY})
    assert count(Comment) == 2


def test_keys_are_pruned_after_a_day(app, deployed):
    case = start_case()
    login(app, "gestionnaire").post(f"/dossiers/{case.reference}/commentaires",
                                    data={"text": "Vu.", "idempotency_key": KEY})
    assert count(IdempotencyKey) == 1
    clock.advance(hours=23)
    assert idempotency.prune() == 0
    clock.advance(hours=2)
    assert idempotency.prune() == 1 and count(IdempotencyKey) == 0


def test_a_failed_action_records_no_key(app, deployed):
    case = start_case()
    g = login(app, "gestionnaire")
    assert g.post(f"/dossiers/{case.reference}/commentaires", data={"text": "", "idempotency_key": KEY}
                  ).status_code == 302  # refused: empty
    assert count(IdempotencyKey) == 0
    g.post(f"/dossiers/{case.reference}/commentaires", data={"text": "Enfin.", "idempotency_key": KEY})
    assert count(Comment) == 1
