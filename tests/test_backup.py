"""Backup and restore: a consistent copy while completions run, restored into a new database and folders.

The drill: cases with attachments, a backup taken while another thread starts cases and completes tasks,
a restore onto a new empty database, a new attachment folder and a new instance folder; then the audit
chains verify, every case replays, attachments download, the task list answers, and every case whose
acknowledgment committed before the backup began is there. Both backends (pg_dump / pg_restore on PostgreSQL).
"""

import json
import tarfile
import threading
from datetime import timedelta

import pytest
from flask import url_for
from flask_migrate import stamp
from sqlalchemy import select

from app import clock, create_app
from app.extensions import db
from app.models import Attachment, Case, OutboxMessage
from app.services.cases import notes
from app.services.people.users import by_username
from tests.support.databases import empty_database
from tests.support.flows import complaint_data, start
from tests.support.migrations import migration_head
from tests.support.setup import PROCESSES, Api

QUALIFY_OK = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing",
              "qualification_comment": "Double facturation avérée."}
PDF = b"%PDF-1.4\n% backup drill\n"


@pytest.fixture
def app_config(tmp_path):
    return {"INSTANCE_PATH": str(tmp_path / "instance"), "ATTACHMENT_DIR": str(tmp_path / "files")}


def restored_app(url, tmp_path):
    return create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "PROCESSES_DIR": str(PROCESSES), "INSTANCE_PATH": str(tmp_path / "instance2"),
        "ATTACHMENT_DIR": str(tmp_path / "files2"), "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


class Completions(threading.Thread):
    """Start cases and complete their qualification, in a loop, until stopped (another client, another session)."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.api = Api(app.test_client())
        self.stop = threading.Event()
        self.acknowledged: list[str] = []  # references whose start (with its acknowledgment) has committed
        self.completed = 0
        self.error: BaseException | None = None

    def run(self):
        try:
            while not self.stop.is_set():
                started = start(self.api, **complaint_data(customer_name=f"Client {len(self.acknowledged)}"))
                self.acknowledged.append(started["reference"])
                task = started["tasks"][0]
                resp = self.api.post("gestionnaire", f"/api/tasks/{task['id']}/complete", json={"data": QUALIFY_OK})
                assert resp.status_code == 200, resp.get_json()
                self.completed += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def wait_for(self, completed: int) -> None:
        for _ in range(6000):
            if self.completed >= completed or self.error is not None or not self.is_alive():
                break
            self.stop.wait(0.01)
        assert self.error is None, self.error
        assert self.completed >= completed


def test_restore_drill(app, api, deployed, tmp_path, backend):
    stamp()  # the fixture's tables come from create_all: record them as the head revision, as init-db does
    references = [start(api, **complaint_data(customer_name=f"Cliente {i}"))["reference"] for i in range(3)]
    admin = by_username("admin")
    for reference in references:
        notes.add_attachment(admin, reference, f"facture-{reference}.pdf", PDF + reference.encode())
    secret = (tmp_path / "instance" / "secret_key").read_text()
    (tmp_path / "instance" / "signing.key").write_text("a future key file")
    runner = app.test_cli_runner()

    worker = Completions(app)
    worker.start()
    try:
        worker.wait_for(2)
        before = set(references) | set(worker.acknowledged)  # committed before the backup starts
        clock.advance(seconds=1)
        made = runner.invoke(args=["backup", "create", str(tmp_path / "backups")])
        assert made.exit_code == 0, made.output
        worker.wait_for(worker.completed + 2)  # completions went on meanwhile
    finally:
        worker.stop.set()
        worker.join(timeout=60)
    assert worker.error is None, worker.error
    [archive] = sorted((tmp_path / "backups").glob("reclamations-*.tar"))
    checksum = archive.with_name(archive.name + ".sha256").read_text().split()
    assert checksum[1] == archive.name and len(checksum[0]) == 64
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    assert manifest["backend"] == backend and manifest["schema_revision"] == migration_head()
    assert manifest["created_at"] and manifest["counts"]["cases"] >= len(before)
    assert {"instance/secret_key", "instance/signing.key", manifest["database"]} <= names
    assert sum(1 for n in names if n.startswith("attachments/")) == 3
    assert not any(n.startswith("instance/backups") or n.endswith(".db") for n in names)
    db.session.remove()

    with empty_database(backend, tmp_path, "restored") as url:
        target = restored_app(url, tmp_path)
        with target.app_context():
            restored = target.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
            assert restored.exit_code == 0, restored.output
            assert "restaurée" in restored.output
            assert (tmp_path / "instance2" / "secret_key").read_text() == secret
            assert (tmp_path / "instance2" / "signing.key").read_text() == "a future key file"
            present = set(db.session.scalars(select(Case.reference)))
            assert before <= present, before - present
            acknowledged = set(db.session.scalars(
                select(Case.reference).join(OutboxMessage, OutboxMessage.case_id == Case.id)
                .where(OutboxMessage.template == "acknowledgment")))
            assert before <= acknowledged
            cli = target.test_cli_runner()
            verified = cli.invoke(args=["audit", "verify"])
            assert verified.exit_code == 0 and "intègres" in verified.output, verified.output
            replayed = cli.invoke(args=["audit", "replay", "--all"])
            assert replayed.exit_code == 0 and f"conformes : {len(present)}" in replayed.output, replayed.output
            attachments = [(db.session.get(Case, a.case_id).reference, a.id)
                           for a in db.session.scalars(select(Attachment))]
            again = cli.invoke(args=["backup", "restore", str(archive)])
            assert again.exit_code != 0 and "n'est pas vide" in again.output
            db.session.remove()
        client = target.test_client()
        resp = client.post("/login", data={"username": "gestionnaire", "password": "demo"})
        assert resp.status_code == 302
        assert len(attachments) == 3
        for reference, attachment_id in attachments:
            with target.test_request_context():
                link = url_for("cases.download", reference=reference, attachment_id=attachment_id)
            download = client.get(link)
            body = download.data
            download.close()  # send_file's open file
            assert download.status_code == 200 and body == PDF + reference.encode()
        page = client.get("/taches/?onglet=group")
        assert page.status_code == 200 and all(r.encode() in page.data for r in references)
        tasks = Api(target.test_client()).get("gestionnaire", "/api/tasks?scope=group").get_json()
        assert set(references) <= {t["case"] for t in tasks["tasks"]}
        with target.app_context():
            db.engine.dispose()


def test_restore_refuses_a_damaged_backup_and_a_full_attachment_folder(app, api, deployed, tmp_path, backend):
    start(api, **complaint_data())
    made = app.test_cli_runner().invoke(args=["backup", "create", str(tmp_path / "b"), "--keep", "1"])
    assert made.exit_code == 0, made.output
    [archive] = (tmp_path / "b").glob("*.tar")
    clock.set_now(clock.now() + timedelta(seconds=5))
    second = app.test_cli_runner().invoke(args=["backup", "create", str(tmp_path / "b"), "--keep", "1"])
    assert "ancienne sauvegarde supprimée" in second.output and not archive.exists()  # retention
    [archive] = (tmp_path / "b").glob("*.tar")
    damaged = tmp_path / "damaged.tar"
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        member = tar.getmember(json.load(tar.extractfile("manifest.json"))["database"])
    data[member.offset_data + 100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    db.session.remove()
    with empty_database(backend, tmp_path, "restored") as url:
        target = restored_app(url, tmp_path)
        with target.app_context():
            cli = target.test_cli_runner()
            refused = cli.invoke(args=["backup", "restore", str(damaged)])
            assert refused.exit_code != 0 and "Somme de contrôle incorrecte" in refused.output
            (tmp_path / "files2").mkdir()
            (tmp_path / "files2" / "stray").write_text("x")
            full = cli.invoke(args=["backup", "restore", str(archive)])
            assert full.exit_code != 0 and "pièces jointes n'est pas vide" in full.output
            assert db.inspect(db.engine).get_table_names() == []  # nothing written by a refused restore
            db.engine.dispose()
