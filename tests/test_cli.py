"""The operator CLI: init-db, deploy (idempotent), demo, users create, audit verify, timers run."""

from sqlalchemy import func, select, text

from app import clock
from app.extensions import db
from app.models import Case, ProcessDefinition, User
from tests.support.setup import PROCESSES, TEST_BPMN


def test_init_db_deploy_is_idempotent(runner, ctx):
    assert runner.invoke(args=["init-db"]).exit_code == 0
    first = runner.invoke(args=["deploy"])
    assert first.exit_code == 0, first.output
    assert "reclamation v1" in first.output and "litige v1" in first.output
    again = runner.invoke(args=["deploy"])
    assert again.exit_code == 0 and again.output.count("inchangé") == 2
    assert db.session.scalar(select(func.count()).select_from(ProcessDefinition)) == 2
    changed = (PROCESSES / "reclamation.bpmn").read_text().replace("Qualifier la réclamation", "Qualifier la demande")
    path = ctx.instance_path + "/reclamation-v2.bpmn"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(changed)
    result = runner.invoke(args=["deploy", path])
    assert result.exit_code == 0 and "reclamation v2" in result.output


def test_deploy_refuses_hostile_and_broken_files(runner, ctx, tmp_path):
    bomb = tmp_path / "bomb.bpmn"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
                    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&b;</bpmn:definitions>')
    result = runner.invoke(args=["deploy", str(bomb)])
    assert result.exit_code != 0 and "DOCTYPE" in result.output
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions")
    result = runner.invoke(args=["deploy", str(broken)])
    assert result.exit_code != 0 and "mal formé" in result.output
    unsafe = tmp_path / "unsafe.bpmn"
    unsafe.write_text((TEST_BPMN / "loop.bpmn").read_text().replace(
        "<bpmn:script>passes = 0</bpmn:script>", "<bpmn:script>passes = ().__class__.__base__</bpmn:script>"))
    result = runner.invoke(args=["deploy", str(unsafe)])
    assert result.exit_code != 0 and "init" in result.output
    assert db.session.scalar(select(func.count()).select_from(ProcessDefinition)) == 0


def test_demo_loads_users_and_cases(runner, ctx):
    assert runner.invoke(args=["deploy"]).exit_code == 0
    result = runner.invoke(args=["demo", "--cases", "4"])
    assert result.exit_code == 0, result.output
    names = set(db.session.scalars(select(User.username)))
    assert {"accueil", "gestionnaire", "service", "qualite", "responsable", "finance", "commercial", "direction",
            "auditeur", "proprietaire", "admin"} <= names
    assert db.session.scalar(select(func.count()).select_from(Case)) == 4
    assert runner.invoke(args=["demo", "--cases", "0"]).exit_code == 0  # re-running keeps the users


def test_users_create_asks_for_password(runner, ctx):
    result = runner.invoke(args=["users", "create", "alice", "--groups", "gestionnaire,qualite"],
                           input="s3cret!\ns3cret!\n")
    assert result.exit_code == 0, result.output
    alice = db.session.scalars(select(User).where(User.username == "alice")).one()
    assert alice.groups == ["gestionnaire", "qualite"] and alice.check_password("s3cret!")
    duplicate = runner.invoke(args=["users", "create", "alice"], input="x1234\nx1234\n")
    assert duplicate.exit_code != 0 and "existe déjà" in duplicate.output


def _disable_append_only(backend):
    if backend == "sqlite":
        db.session.execute(text("DROP TRIGGER audit_event_no_update"))
    else:
        db.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))


def test_audit_verify_finds_a_tampered_row(runner, ctx, backend, api, deployed):
    from tests.support.flows import complaint_data, start

    ref = start(api, **complaint_data())["reference"]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert runner.invoke(args=["audit", "verify", ref]).exit_code == 0
    _disable_append_only(backend)
    db.session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE case_reference = :r AND seq = 2"),
                       {"r": ref})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify", ref])
    assert result.exit_code == 1
    assert f"{ref} événement 2" in result.output and "empreinte" in result.output


def test_timers_run_once_fires_due_timers(runner, api, deployed):
    from tests.support.flows import case, complaint_data, do, start

    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing", "severity": "low",
                                                "department": "billing"})
    assert "0" in runner.invoke(args=["timers", "run", "--once"]).output
    clock.advance(days=20)
    result = runner.invoke(args=["timers", "run", "--once"])
    assert result.exit_code == 0 and ref in result.output
    assert "ut_overdue" in {t["bpmn_id"] for t in case(api, ref)["tasks"]}
