"""Tamper evidence against the database's own administrator: keyed chain, signed checkpoints, signed exports.

The attacker rewrites an event and recomputes the whole chain, with the public hash function or with the stolen
HMAC key; `audit verify` must fail and name the case. Exports verify with the public key alone (the standalone
script in a separate process) and fail when one byte changes.
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services.audit import checkpoints, exports
from app.services.core import audit, audit_keys
from tests.support.flows import complaint_data, do, start
from tests.support.tamper import rewrite

ROOT = Path(__file__).resolve().parent.parent
QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"}


@pytest.fixture
def refs(deployed, api):
    first = start(api, **complaint_data())["reference"]
    do(api, first, "ut_qualify", "gestionnaire", QUALIFY)
    second = start(api, **complaint_data(customer_name="Paul Durand"))["reference"]
    return first, second


def _category(value):
    def edit(event):
        if event.type == "task_completed":
            event.data = {**event.data, "submitted": {**event.data["submitted"], "category": value}}
    return edit


def test_events_are_keyed_with_a_key_outside_the_database(refs, app, tmp_path):
    events = list(db.session.scalars(select(AuditEvent)))
    ring = audit_keys.ring()
    assert events and {e.key_id for e in events} == {ring.active_id}
    assert all(e.hash == audit.keyed_hash(e, ring.active) != audit.compute_hash(e) for e in events)
    key_file = Path(app.config["AUDIT_KEY_DIR"]) / f"{ring.active_id}.key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_rotation_keeps_old_events_verifiable(refs, api, runner):
    old = audit_keys.ring().active_id
    result = runner.invoke(args=["audit", "rotate-key"])
    assert result.exit_code == 0, result.output
    new = audit_keys.ring().active_id
    assert new != old and new in result.output
    do(api, refs[1], "ut_qualify", "gestionnaire", QUALIFY)
    ids = [e.key_id for e in audit.history(db.session.scalars(
        select(AuditEvent.case_id).where(AuditEvent.case_reference == refs[1])).first())]
    assert ids[0] == old and ids[-1] == new
    assert audit.verify() == []
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


@pytest.mark.parametrize("stolen_key", [False, True])
def test_rewritten_and_recomputed_chain_is_named_by_verify(refs, runner, stolen_key):
    first, second = refs
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    ring = audit_keys.ring()
    if stolen_key:
        rewrite(first, _category("product"), key=ring.active, key_id=ring.active_id)
        assert audit.verify() == []  # the chain alone looks intact: only the checkpoint can tell
    else:
        rewrite(first, _category("product"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"historique modifié pour 1 chaîne(s) : {first}" in result.output
    assert second not in result.output
    problems = checkpoints.verify_chains()
    assert {p.reference for p in problems} == {first}
    if stolen_key:
        last = problems[0].seq
        assert [p.message for p in problems] == [f"historique réécrit : un des événements 1 à {last} n'est plus "
                                                 "celui que le point de contrôle signé a scellé"]


def test_a_checkpointed_chain_rehashed_without_the_key_is_named(refs, runner):
    rewrite(refs[0], _category("product"))  # every event now carries a plain hash and no key id
    # Unkeyed events pass only where a checkpoint covers them: refs[0] is covered as it then was.
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    rewrite(refs[1], lambda e: None)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and refs[1] in result.output


def test_events_written_before_keying_are_covered_by_the_first_checkpoint(refs, api, runner):
    first, second = refs
    rewrite(first, lambda e: None)  # the legacy trail: plain SHA-256, key id NULL (as before h18_audit)
    rewrite(second, lambda e: None)
    assert audit.verify() == []  # no checkpoint yet: legacy chains are accepted as they are
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    do(api, second, "ut_qualify", "gestionnaire", QUALIFY)  # new events are keyed on top of the plain ones
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    rewrite(first, _category("product"))  # a legacy event changed after the first checkpoint
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and first in result.output and second not in result.output.split("\n")[0]


def test_checkpoint_files_are_signed_and_chained(refs, runner, app):
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    files = checkpoints.files()
    assert len(files) == 2
    second = json.loads(files[1].read_bytes())
    assert second["header"]["previous"] == checkpoints.header_digest(json.loads(files[0].read_bytes())["header"])
    assert {leaf[0] for leaf in second["leaves"]} >= set(refs)
    assert runner.invoke(args=["audit", "verify", "--all-checkpoints"]).exit_code == 0
    forged = dict(second, leaves=[[r, s, "0" * 64] for r, s, _h in second["leaves"]])
    files[1].write_text(json.dumps(forged))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "racine" in result.output
    pem = runner.invoke(args=["audit", "public-key"]).output
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_timer_worker_signs_a_checkpoint_when_due(refs, runner):
    from app import clock
    from tests.support.flows import advance_days

    assert checkpoints.due()
    assert "Point de contrôle" in runner.invoke(args=["timers", "run", "--once"]).output
    assert not checkpoints.due() and len(checkpoints.files()) == 1
    runner.invoke(args=["timers", "run", "--once"])
    assert len(checkpoints.files()) == 1
    advance_days(1)
    assert checkpoints.due() and clock.now()
    runner.invoke(args=["timers", "run", "--once"])
    assert len(checkpoints.files()) == 2


def _script(path: Path, pem: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "verify_export.py"), str(path),
                           "--public-key", str(pem)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_export_verifies_with_the_public_key_alone_and_fails_on_one_byte(refs, client, runner, tmp_path, kind):
    first = refs[0]
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    assert client.post("/login", data={"username": "auditeur", "password": "demo"}).status_code == 302
    data = client.get(f"/audit/cases/{first}/export.{kind}").get_data()
    pem = tmp_path / "public.pem"
    pem.write_text(runner.invoke(args=["audit", "public-key"]).output)
    path = tmp_path / f"export.{kind}"
    path.write_bytes(data)
    done = _script(path, pem)
    assert done.returncode == 0, done.stdout
    assert runner.invoke(args=["audit", "verify-export", str(path)]).exit_code == 0
    if kind == "json":
        document = json.loads(data)
        assert document["checkpoint"]["header"]["root"] and document["proof"]["leaf"][0] == first
    rng = random.Random(18)
    positions = rng.sample(range(len(data)), 40)
    for position in positions:
        changed = bytearray(data)
        changed[position] = (changed[position] + 1) % 256 or 1
        path.write_bytes(bytes(changed))
        assert _script(path, pem).returncode == 1, position
        assert exports.verify_file(bytes(changed), checkpoints.public_key_pem()) != [], position
    other = tmp_path / "other.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    path.write_bytes(data)
    assert _script(path, other).returncode == 1  # another installation's key proves nothing


def test_checkpoint_is_mailed_to_the_auditors(refs, runner, app):
    from tests.support.mail import start_sink

    sink, controller, port = start_sink()
    try:
        app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}?timeout=5", AUDIT_CHECKPOINT_EMAIL="audit@example.org")
        assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    finally:
        controller.stop()
    assert len(sink.messages) == 1
    recipients, message = sink.messages[0]
    assert recipients == ["audit@example.org"] and "Point de contrôle d'audit" in message["Subject"]
    attached = next(message.iter_attachments())
    assert json.loads(attached.get_content()) == json.loads(checkpoints.files()[-1].read_bytes())


def test_a_deleted_tail_is_named(refs, runner):
    from tests.support.tamper import unguarded

    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    with unguarded():
        last = db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == refs[1])
                                  .order_by(AuditEvent.seq.desc())).first()
        db.session.delete(last)
    assert audit.verify() == []  # the shortened chain is consistent in itself
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and refs[1] in result.output and "événements supprimés" in result.output


def test_a_removed_checkpoint_file_breaks_the_link(refs, runner):
    for _ in range(3):
        assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    checkpoints.files()[1].unlink()  # someone removes the middle checkpoint
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "lien vers le point de contrôle précédent rompu" in result.output


def test_older_checkpoints_narrow_down_where_the_history_was_rewritten(refs, api, runner):
    first = refs[1]
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    sealed = max(e.seq for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == first)))
    do(api, first, "ut_qualify", "gestionnaire", QUALIFY)  # events after the first checkpoint
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    ring = audit_keys.ring()
    rewrite(first, _category("product"), key=ring.active, key_id=ring.active_id)  # the edit is after `sealed`
    problems = checkpoints.verify_chains(first)
    last = problems[0].seq
    assert [p.message for p in problems] == [f"historique réécrit : un des événements {sealed + 1} à {last} "
                                             "n'est plus celui que le point de contrôle signé a scellé"]
