"""The audit trail in business words and one time zone: every audit page of the demo data and of a full dispute
path shows no raw code; a broken chain is a red banner naming the first bad event, with the bad rows marked;
the state accepts French dates in Paris time; the register of a period; the PDF of the trail (pdftotext).
"""

import csv
import io
import shutil
import subprocess

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.support.audit_flows import run_dispute_path
from tests.support.flows import complaint_data, do, start
from tests.support.raw_code import raw_code
from tests.support.tamper import rewrite

QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"}


def _login(client, user="auditeur"):
    assert client.post("/login", data={"username": user, "password": "demo"}).status_code == 302


def _page(client, url) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True)


def _audit_pages(client, reference) -> dict[str, str]:
    seqs = [e.seq for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == reference))]
    urls = [f"/audit/cases/{reference}", f"/audit/cases/{reference}/verify", f"/audit/cases/{reference}/print",
            f"/dossiers/{reference}"] + [f"/audit/cases/{reference}/state?at={seq}" for seq in seqs]
    return {url: _page(client, url) for url in urls}


def _assert_no_raw_code(pages: dict[str, str]) -> None:
    found = {}
    for url, html in pages.items():
        for problem in raw_code(html):
            found.setdefault(problem.split(" dans ")[0], (url, problem))
    assert "\n".join(p for _u, p in sorted(found.values())) == ""


def test_every_audit_page_of_the_demo_shows_no_raw_code(ctx, client, runner):
    assert runner.invoke(args=["deploy"]).exit_code == 0
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    references = [line.strip() for line in result.output.splitlines() if line.strip().startswith("REC-")]
    assert len(references) == 8  # the demo's complaints, with the dispute thread and the contest
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    assert runner.invoke(args=["audit", "replay", "--all"]).exit_code == 0
    _login(client)
    pages = {}
    for reference in references:
        pages.update(_audit_pages(client, reference))
    for url in ("/audit/", "/audit/?type=clock_started", "/audit/?actor=accueil", "/audit/late-responses",
                "/audit/register?from=2026-11-01&to=2026-11-30"):
        pages[url] = _page(client, url)
    _assert_no_raw_code(pages)
    timeline = pages[f"/audit/cases/{references[0]}"]
    for words in ("Délai démarré", "Délai arrêté", "Étapes automatiques", "Réponse", "Accusé de réception",
                  "Canal de réception", "Courrier", "Oui", "40,00\u00a0€"):
        assert words in timeline, words
    assert "Échéance : 15 jours calendaires" in timeline  # element names, branches taken included


def test_dispute_path_pages_read_in_business_words(deployed, client, api):
    ref, child, _cap, _child_cap = run_dispute_path(api)
    _login(client)
    pages = {**_audit_pages(client, ref), **_audit_pages(client, child)}
    pages["/audit/late-responses"] = _page(client, "/audit/late-responses")
    assert ref in pages["/audit/late-responses"]  # answered after its deadline
    _assert_no_raw_code(pages)
    child_page = pages[f"/audit/cases/{child}"]
    assert "42,50\u00a0€" in child_page and "Paiement débloqué" in child_page
    assert "Dossier migré" not in child_page  # only events that happened are named


@pytest.fixture
def ref(deployed, api):
    reference = start(api, **complaint_data())["reference"]
    do(api, reference, "ut_qualify", "gestionnaire", QUALIFY)
    return reference


def _category(value):
    def edit(event):
        if event.type == "task_completed":
            event.data = {**event.data, "submitted": {**event.data["submitted"], "category": value}}
    return edit


@pytest.mark.parametrize("url", ["/audit/cases/{ref}", "/audit/cases/{ref}/state", "/dossiers/{ref}"])
def test_a_broken_chain_is_a_red_banner_naming_the_first_bad_event(client, ref, url):
    _login(client)
    assert 'id="audit-chain-alert"' not in _page(client, url.format(ref=ref))
    seq = next(e.seq for e in db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == ref))
               if e.type == "task_completed")
    from tests.support.tamper import unguarded

    with unguarded():  # the attacker has no key: the row is changed, its hash left as it was
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_reference == ref,
                                                            AuditEvent.seq == seq)).one()
        _category("product")(event)
    page = _page(client, url.format(ref=ref))
    assert 'id="audit-chain-alert"' in page and 'role="alert"' in page
    assert f"Premier événement en cause : n° {seq} — contenu modifié (empreinte invalide)" in page
    if url.startswith("/dossiers"):  # the staff timeline marks the row too
        assert page.count("⚠ altéré") == 1 and f'class="ev ev-task_completed audit-bad" id="event-{seq}"' in page
    elif "state" not in url:
        assert page.count("⚠ altéré") == 1 and f'id="event-{seq}" data-type="task_completed" class="audit-bad"' in page


def test_rehashed_chain_is_named_on_the_page_after_a_checkpoint(client, runner, ref):
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    rewrite(ref, _category("product"))
    _login(client)
    page = _page(client, f"/audit/cases/{ref}")
    assert 'id="audit-chain-alert"' in page and "audit-bad" in page


def test_web_verify_stores_its_result_with_date_and_author(client, ref):
    _login(client)
    before = _page(client, f"/audit/cases/{ref}")
    assert "Aucune vérification complète (rejeu) n'a encore été faite pour ce dossier." in before
    resp = client.post(f"/audit/cases/{ref}/verify")
    assert resp.status_code == 302
    page = _page(client, f"/audit/cases/{ref}")
    assert "✔ Vérifié par rejeu le 23/11/2026 10:00:00 par auditeur" in page
    assert "Vérifié par rejeu" in _page(client, f"/dossiers/{ref}")


def test_state_accepts_a_french_date_in_paris_time(client, api, ref):
    _login(client)
    # the case started at 09:00 UTC = 10:00 Paris; at 09:59 Paris it did not exist yet
    early = _page(client, f"/audit/cases/{ref}/state?at=23/11/2026 09:59")
    assert "Le dossier n&#39;existait pas encore à cette date." in early
    page = _page(client, f"/audit/cases/{ref}/state?at=23/11/2026 10:00")
    assert "Après l'événement" in page and "23/11/2026 10:00:00" in page
    wrong = _page(client, f"/audit/cases/{ref}/state?at=lundi")
    assert "JJ/MM/AAAA HH:MM" in wrong


def test_register_of_a_period_on_screen_in_csv_and_pdf(client, api, ref):
    other = start(api, **complaint_data(customer_name="Paul Durand", description="Colis abîmé."))["reference"]
    _login(client)
    page = _page(client, "/audit/register?from=2026-11-01&to=2026-11-30")
    assert ref in page and other in page and "Registre des réclamations" in page
    assert "Facturation" in page and "du 01/11/2026 au 30/11/2026" in page
    assert "Aucune réclamation" in _page(client, "/audit/register?from=2026-10-01&to=2026-10-31")
    assert "Date attendue" in _page(client, "/audit/register?from=hier")
    rows = list(csv.reader(io.StringIO(client.get("/audit/register.csv?from=2026-11-01&to=2026-11-30")
                                       .get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert rows[1][:4] == ["N°", "Reçue le", "Canal", "Client"] and [r[0] for r in rows[2:]] == [ref, other]
    assert rows[3][3] == "Paul Durand" and rows[3][5] == "Colis abîmé."
    pdf = client.get("/audit/register.pdf?from=2026-11-01&to=2026-11-30")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = _pdftotext(pdf.data)
    assert "Registre des réclamations" in text and ref in text and "Paul Durand" in text


def test_capa_path_reads_in_words_in_the_trail_and_the_register(client, api, ref):
    do(api, ref, "ut_analyse", "service", {"facts": "Frais de port facturés deux fois.",
                                           "root_cause": "Double facturation du port", "systemic": "yes",
                                           "needs_information": "no"})
    do(api, ref, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Avoir émis."})
    do(api, ref, "ut_reaction", "gestionnaire", {"reaction": "satisfied", "reaction_on": "2026-11-24",
                                                  "payment_blocked": "no"})
    do(api, ref, "ut_capa", "qualite", {"corrective_action": "Corriger la règle de facturation du port",
                                        "preventive_action": "Contrôle des doublons", "action_owner": "qualite",
                                        "action_due": "2026-12-15"})
    _login(client)
    pages = _audit_pages(client, ref)
    _assert_no_raw_code(pages)
    trail = pages[f"/audit/cases/{ref}"]
    assert "Actions CAPA créées" in trail and "Corrective : Corriger la règle de facturation du port" in trail
    assert "Préventive : Contrôle des doublons" in trail and "15/12/2026" in trail
    register = _page(client, "/audit/register?from=2026-11-01&to=2026-11-30")
    assert raw_code(register) == []
    for words in ("Faits constatés : Frais de port facturés deux fois.", "Cause racine : Double facturation du port",
                  "Cause systémique", "Avoir émis.", "échéance 15/12/2026", "Corrective : Corriger la règle"):
        assert words in register, words


def _pdftotext(data: bytes, *extra) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    done = subprocess.run(["pdftotext", *extra, "-", "-"], input=data, capture_output=True, timeout=60)
    assert done.returncode == 0
    return done.stdout.decode("utf-8")


def _pdfinfo(data: bytes) -> str:
    done = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, timeout=60)
    return done.stdout.decode("utf-8")


def test_trail_pdf_carries_the_seal_and_fits_a4(client, runner, ref):
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    _login(client)
    resp = client.get(f"/audit/cases/{ref}/trail.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "A4" in _pdfinfo(resp.data) or "595 x 842" in _pdfinfo(resp.data)
    text = _pdftotext(resp.data, "-layout")
    assert f"Piste d'audit du dossier {ref}" in text
    assert "Point de contrôle signé" in text and "Signature de l'export" in text
    assert "Données d'ouverture" in text and "Martine Lefèvre" in text  # start data expanded on paper
    assert "Catégorie" in text and "Facturation" in text and "category" not in text


def test_replay_differences_read_in_words(client, ref):
    from app.models import Case

    case = db.session.scalars(select(Case).where(Case.reference == ref)).one()
    case.data = {**case.data, "category": "product"}  # someone edits the stored data behind the application
    db.session.commit()
    _login(client)
    page = client.post(f"/audit/cases/{ref}/verify", follow_redirects=True).get_data(as_text=True)
    assert "écart(s) détecté(s)" in page and "Donnée « Catégorie »" in page and "<td>Facturation</td>" in page
    assert raw_code(page) == []
    assert "✖ Écart détecté par rejeu le 23/11/2026 10:00:00 par auditeur" in _page(client, f"/dossiers/{ref}")


def test_a_migrated_case_reads_in_words(client, api, ref):
    from tests.support.setup import PROCESSES

    xml = (PROCESSES / "reclamation.bpmn").read_text(encoding="utf-8").replace(
        'name="Analyser la réclamation"', 'name="Analyser la réclamation (v2)"')
    draft = api.post("proprietaire", "/api/process-definitions", data=xml.encode("utf-8"),
                     headers={"Content-Type": "application/xml"})
    assert draft.status_code == 201, draft.get_json()
    assert api.post("proprietaire", f"/api/process-definitions/reclamation/{draft.get_json()['ref']}/deploy") \
        .status_code == 201
    resp = api.post("proprietaire", "/api/process-definitions/reclamation/migrations", json={"cases": [ref]})
    assert resp.status_code == 200 and resp.get_json()["results"][0]["migrated"] is True
    _login(client)
    pages = _audit_pages(client, ref)
    _assert_no_raw_code(pages)
    trail = pages[f"/audit/cases/{ref}"]
    assert "Dossier migré vers une autre version" in trail and "versions" in trail
    assert "Depuis la version</dt><dd>1</dd>" in trail and "Vers la version</dt><dd>2</dd>" in trail
    assert "Vers la version n°" not in trail  # internal row ids stay out of sight
