"""Personal data (RGPD): erasure leaves nothing in the raw files, the trail verifiable, the indicators unchanged;
the retention purge, legal holds, the subject-access archive, the access log and the DPO pages."""

import io
import json
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AccessLog, AuditEvent, Case, PrivacyRequest
from app.models.privacy import ERASED
from app.services.audit.verification import verify_and_record
from app.services.cases import notes
from app.services.core import audit
from app.services.indicators import figures
from app.services.messaging import outbox
from app.services.people.users import by_username
from app.services.privacy import erasure, retention, subjects
from app.services.public import intake as public
from tests.support.auth import login
from tests.support.flows import complaint_data, do, start

NAME = "Martine Quennehen"
EMAIL = "martine.quennehen@example.fr"
PHONE = "06 12 34 56 78"
ADDRESS = "12 rue des Tilleuls, 59000 Lille"
SENTENCE = "Mon colis est arrivé écrasé contre la porte du garage"
MESSAGE = "Je joins la photo du carton abîmé devant chez moi"
SECRETS = [NAME.split()[1], EMAIL, PHONE, "rue des Tilleuls", SENTENCE, MESSAGE]

QUALIFY = {"admissible": "yes", "category": "delivery", "severity": "medium", "department": "logistics",
           "qualification_comment": "Livraison abîmée."}
ANALYSE = {"facts": "Colis écrasé.", "root_cause": "Transporteur", "curative_action": "Renvoi", "curative_cost": 9.0,
           "systemic": "no", "needs_information": "no"}
DECIDE = {"decision": "accepted", "compensation": 30.0, "response_text": "Nous vous renvoyons l'article."}
SATISFIED = {"reaction": "satisfied", "reaction_on": "2026-11-25", "payment_blocked": "no"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _encodings(text: str) -> list[bytes]:
    """How a value can sit in a file: UTF-8, or JSON-escaped (the JSON columns of SQLite)."""
    escaped = json.dumps(text)[1:-1]
    return sorted({text.encode("utf-8"), escaped.encode("ascii")})


def leaks(blob: bytes) -> list[str]:
    return [s for s in SECRETS if any(e in blob for e in _encodings(s))]


def close_complaint(api, ref):
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    do(api, ref, "ut_reaction", "gestionnaire", SATISFIED)
    do(api, ref, "ut_survey", "gestionnaire", {"satisfaction_score": 4, "satisfaction_comment": "Rapide."})


def one_person_everywhere(api) -> list[str]:
    """One person's cases through every channel, all closed: public form, staff phone intake, a dispute it opened,
    messages and files from the complainant, staff attachments and comments, letters."""
    web = public.file_intake({"kind": "complaint", "origin": "external_customer", "customer_name": NAME,
                              "customer_email": EMAIL, "customer_address": ADDRESS, "description": SENTENCE}
                             ).case.reference
    db.session.remove()
    token = db.session.scalars(select(Case.tracking_token).where(Case.reference == web)).one()
    public.add_information(token, MESSAGE, "photo-quennehen.png", io.BytesIO(PNG))
    close_complaint(api, web)
    phone = start(api, **complaint_data(channel="letter", customer_name=NAME, customer_email=EMAIL,
                                         customer_phone=PHONE, customer_address=ADDRESS,
                                         description=f"Appel : {SENTENCE}", invoice_refs="FA-2026-9001"))["reference"]
    notes.add_attachment(by_username("gestionnaire"), phone, "courrier-quennehen.pdf",
                         b"%PDF-1.4\n" + SENTENCE.encode() + b"\n%%EOF\n")
    notes.add_comment(by_username("gestionnaire"), phone, f"Rappelée au {PHONE}, {NAME} confirme.")
    do(api, phone, "ut_qualify", "gestionnaire", QUALIFY)
    do(api, phone, "ut_analyse", "service", ANALYSE)
    do(api, phone, "ut_decide", "gestionnaire", {**DECIDE, "decision": "rejected"})
    do(api, phone, "ut_reaction", "gestionnaire", {**SATISFIED, "reaction": "contests", "payment_blocked": "yes",
                                                   "blocked_amount": 250.0, "invoice_refs": "FA-2026-9001",
                                                   "block_reason": "Conteste la facture"})
    dispute = db.session.scalars(select(Case.reference).where(Case.parent_id.is_not(None))).one()
    do(api, dispute, "ut_analyse", "commercial", {"justified": "partly", "analysis": "Partiel", "proposed_credit": 50})
    do(api, dispute, "ut_credit_note", "finance", {"credit_note_number": "AV-1", "credited_amount": 50.0})
    do(api, dispute, "ut_release", "finance", {"payment_released": "yes", "released_amount": 200.0,
                                               "released_on": "2026-11-30"})
    do(api, dispute, "ut_close", "gestionnaire", {"closing_comment": "Avoir émis."})
    do(api, phone, "ut_survey", "gestionnaire", {"satisfaction_score": 2, "satisfaction_comment": "Long."})
    outbox.send_pending()  # letters to print, e-mails waiting (no SMTP): both kept in the outbox
    return [web, phone, dispute]


def raw_files(app, tmp_path) -> bytes:
    """Every byte of the database as stored (SQLite file and WAL, or a pg_dump) and of the attachment folder."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        blob = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    else:
        dump = subprocess.run(["pg_dump", "--data-only", url.replace("postgresql+psycopg", "postgresql")],
                              capture_output=True, check=True)
        blob = dump.stdout
    folder = Path(app.config["ATTACHMENT_DIR"])
    return blob + b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def indicators() -> dict:
    return figures.compute(figures.Filters(start=date(2026, 11, 1), end=date(2026, 12, 31)))


def test_erasure_leaves_nothing_in_the_raw_files_and_the_trail_verifiable(app, api, deployed, tmp_path):
    refs = one_person_everywhere(api)
    cases = subjects.find_cases(by_username("dpo"), email=EMAIL)
    assert sorted(c.reference for c in cases) == sorted(refs)
    assert leaks(raw_files(app, tmp_path)), "the fixture must put the person's data in the files first"
    sealed = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "case_started")).first()
    assert "$pii" in json.dumps(sealed.sealed) and sealed.data["data"]["customer_name"] == NAME
    before = indicators()

    done, refused = erasure.erase([c.id for c in cases], "dpo", "Demande de la personne du 1er décembre")
    assert sorted(done) == sorted(refs) and refused == {}

    assert leaks(raw_files(app, tmp_path)) == []
    assert audit.verify() == []
    assert [(ref, diffs) for ref, diffs in verify_and_record(None, "test") if diffs] == []
    assert indicators() == before
    erased = db.session.scalars(select(Case).where(Case.reference == refs[1])).one()
    assert erased.customer_name == ERASED and erased.data_key is None and erased.erased_at is not None
    assert erased.amount is not None and erased.category == "delivery"  # what the indicators need stays
    types = [e.type for e in audit.history(erased.id)]
    assert types[-1] == "personal_data_erased" and "task_completed" in types


def test_open_cases_and_legal_holds_are_not_erased(app, api, deployed):
    open_ref = start(api, **complaint_data(customer_email=EMAIL))["reference"]
    closed_ref = start(api, **complaint_data(customer_email=EMAIL, description="Autre chose"))["reference"]
    close_complaint(api, closed_ref)
    retention.set_hold(by_username("dpo"), closed_ref, "Contentieux prud'homal en cours")
    plans = {p.reference: p for p in map(erasure.plan, subjects.find_cases(by_username("dpo"), email=EMAIL))}
    assert not plans[open_ref].erasable and "en cours" in plans[open_ref].why_not
    assert not plans[closed_ref].erasable and "motif légal" in plans[closed_ref].why_not
    done, refused = erasure.erase([db.session.scalars(select(Case.id).where(Case.reference == r)).one()
                                   for r in (open_ref, closed_ref)], "dpo", "essai")
    assert done == [] and set(refused) == {open_ref, closed_ref}
    assert db.session.scalars(select(Case.customer_email).where(Case.reference == closed_ref)).one() == EMAIL
    assert "legal_hold_set" in [e.type for e in audit.history(
        db.session.scalars(select(Case.id).where(Case.reference == closed_ref)).one())]


def test_purge_after_the_retention_period_keeps_open_cases_and_holds(app, api, deployed):
    refs = {}
    for label in ("old", "held", "open"):
        refs[label] = start(api, **complaint_data(customer_email=f"{label}@example.fr",
                                                   description=f"Cas {label}"))["reference"]
    close_complaint(api, refs["old"])
    close_complaint(api, refs["held"])
    retention.set_hold(by_username("dpo"), refs["held"], "Enquête de la DGCCRF")
    assert retention.purge(dry_run=True).due == []  # closed today: five years to go
    clock.advance(days=5 * 366)
    report = retention.purge(dry_run=True)
    assert report.due == [refs["old"]] and report.kept == {refs["held"]: "conservation pour motif légal"}
    assert db.session.scalars(select(Case.erased_at).where(Case.reference == refs["old"])).one() is None
    report = retention.purge()
    assert report.erased == [refs["old"]]
    emails = dict(db.session.execute(select(Case.reference, Case.customer_email)).all())
    assert emails[refs["old"]] == ERASED
    assert emails[refs["held"]] == "held@example.fr" and emails[refs["open"]] == "open@example.fr"
    assert db.session.scalars(select(PrivacyRequest.kind)).all() == ["purge"]
    assert audit.verify() == []


def test_retention_rules_by_process_and_outcome(app):
    with app.app_context():
        app.config["RETENTION_RULES"] = "reclamation=5;reclamation/rejected=2;litige=10"
        table = retention.rules()
        assert retention.years_for(Case(process_key="reclamation", status="closed"), table) == 5
        assert retention.years_for(Case(process_key="reclamation", status="rejected"), table) == 2
        assert retention.years_for(Case(process_key="litige", status="closed"), table) == 10
        app.config["RETENTION_RULES"] = "reclamation=cinq"
        with pytest.raises(ValueError, match="RETENTION_RULES"):
            retention.rules()


def test_subject_access_archive_holds_every_case_message_and_file(app, api, deployed):
    refs = one_person_everywhere(api)
    cases = subjects.find_cases(by_username("dpo"), email=EMAIL)
    archive = zipfile.ZipFile(io.BytesIO(subjects.access_archive(by_username("dpo"), cases, EMAIL)))
    names = archive.namelist()
    documents = json.loads(archive.read("dossiers.json"))
    assert sorted(d["reference"] for d in documents) == sorted(refs)
    assert SENTENCE in archive.read("resume.html").decode() and NAME in archive.read("resume.html").decode()
    web = next(d for d in documents if d["reference"] == refs[0])
    assert any(e["type"] == "complainant_attachment" and e["data"]["text"] == MESSAGE for e in web["history"])
    assert any(n.startswith(f"{refs[0]}/envois/") for n in names), names  # the photo the complainant sent
    assert any(n.startswith(f"{refs[1]}/pieces/") for n in names)  # the staff attachment
    messages = [n for n in names if "/messages/" in n]
    assert len(messages) == sum(len(d["messages"]) for d in documents) > 0
    request = db.session.scalars(select(PrivacyRequest)).one()
    assert request.kind == "access" and request.subject_hash == subjects.subject_hash(EMAIL)
    assert EMAIL not in json.dumps({"cases": request.cases, "report": request.report, "reason": request.reason})


def test_access_log_records_displays_and_flags_bulk_reading(app, api, deployed, client):
    refs = [start(api, **complaint_data(description=f"Cas {n}"))["reference"] for n in range(4)]
    login(client, "gestionnaire")
    for ref in refs:
        assert client.get(f"/dossiers/{ref}").status_code == 200
    assert client.get("/dossiers/REC-2099-000000").status_code == 404  # nothing shown, nothing logged
    logged = db.session.scalars(select(AccessLog).where(AccessLog.username == "gestionnaire")).all()
    assert [(e.action, e.target) for e in logged] == [("case", f"/dossiers/{r}") for r in refs]
    assert all(e.case_id is not None for e in logged)
    app.config["ACCESS_ALERT_CASES_PER_HOUR"] = 3
    login(client, "dpo")
    page = client.get("/confidentialite/journal").get_data(as_text=True)
    assert "gestionnaire : 4 dossiers consultés en une heure" in page
    assert client.get("/confidentialite/journal?user=gestionnaire").status_code == 200


def test_dpo_pages_preview_then_erase(app, api, deployed, client):
    ref = start(api, **complaint_data(customer_name=NAME, customer_email=EMAIL))["reference"]
    close_complaint(api, ref)
    login(client, "gestionnaire")
    assert client.get("/confidentialite/").status_code == 403
    login(client, "dpo")
    page = client.get(f"/confidentialite/?email={EMAIL}").get_data(as_text=True)
    assert ref in page and "Ce qui sera effacé" in page and "Effacer définitivement" in page
    resp = client.post("/confidentialite/effacer", data={"email": EMAIL, "reference": ref, "reason": ""})
    assert resp.status_code == 302
    assert db.session.scalars(select(Case.customer_email).where(Case.reference == ref)).one() == EMAIL
    resp = client.post("/confidentialite/effacer", data={"email": EMAIL, "reference": ref,
                                                          "reason": "Demande écrite du 2 décembre"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.scalars(select(Case.customer_email).where(Case.reference == ref)).one() == ERASED
    archive = client.post("/confidentialite/archive", data={"email": EMAIL})
    assert archive.status_code == 200 and archive.mimetype == "application/zip"


def test_public_form_tells_who_processes_the_data_and_the_rights(app, deployed, client):
    page = client.get("/reclamation").get_data(as_text=True)
    assert "Vos données personnelles" in page and "CNIL" in page and "cinq ans" in page
    app.config["PRIVACY_NOTICE"] = "Texte de la collectivité."
    assert "Texte de la collectivité." in client.get("/reclamation").get_data(as_text=True)


def test_cli_erase_previews_and_asks(app, api, deployed, runner):
    ref = start(api, **complaint_data(customer_email=EMAIL))["reference"]
    result = runner.invoke(args=["privacy", "erase", "--email", EMAIL, "--reason", "essai"], input="n\n")
    assert result.exit_code == 1 and "NON EFFACÉ" in result.output and ref in result.output
    close_complaint(api, ref)
    result = runner.invoke(args=["privacy", "erase", "--email", EMAIL, "--reason", "Demande du 3/12", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"Données effacées : {ref}" in result.output
    result = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert result.exit_code == 0 and "simulation" in result.output


def test_sealed_values_are_bound_to_their_case():
    from app.models.privacy import new_data_key, open_value, seal_value

    key = new_data_key()
    token = seal_value(key, "Quennehen", "REC-2026-000001")
    assert open_value(key, token, "REC-2026-000001") == "Quennehen"
    assert open_value(key, token, "REC-2026-000002") == ERASED  # moved to another case: does not open
    assert open_value(None, token, "REC-2026-000001") == ERASED
    assert "Quennehen" not in json.dumps(token)
    assert seal_value(key, "x", "R") != seal_value(key, "x", "R")



def test_deploy_warns_about_a_personal_looking_field_without_classification(app):
    from app.services.processes.validation import warnings

    xml = (Path(__file__).resolve().parents[1] / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
    assert not [w for w in warnings(xml, "reclamation") if "donnée personnelle" in w.message]
    renamed = xml.replace('formField id="product"', 'formField id="contact_phone_pro"', 1)
    assert not [w for w in warnings(renamed, "reclamation") if "donnée personnelle" in w.message]  # convention
    odd = xml.replace('formField id="product"', 'formField id="second_email"', 1)
    found = [w for w in warnings(odd, "reclamation") if "donnée personnelle" in w.message]
    assert [w.level for w in found] == ["warning"] and "second_email" in found[0].message
