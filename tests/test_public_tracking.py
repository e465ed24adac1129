"""The tracking page: what the complainant sees (and never sees), additions and attachments, survey, links."""

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AuditEvent, Case, TaskRow
from app.services.cases.lifecycle import fire_due_timers
from app.services.core import audit
from app.services.messaging import messages
from tests.support.flows import complaint_data, do, start

QUALIFY_OK = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing",
              "qualification_comment": "NOTE-INTERNE-QUALIF client connu pour abus"}
ANALYSE = {"facts": "FAITS-INTERNES frais doublés", "root_cause": "Erreur de paramétrage", "systemic": "no",
           "needs_information": "no"}
DECIDE = {"decision": "accepted", "compensation": 12.5, "response_text": "Nous vous remboursons les frais."}
SATISFIED = {"reaction": "satisfied", "reaction_on": "2026-11-25", "payment_blocked": "no"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def get_case(reference: str) -> Case:
    db.session.expire_all()
    return db.session.scalars(select(Case).where(Case.reference == reference)).one()


def events(case: Case, type_: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.type == type_)))


@pytest.fixture
def filed(api, deployed):
    """A complaint registered by staff, qualified and being analysed: reference and token."""
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY_OK)
    case = get_case(ref)
    return case.reference, case.tracking_token


def to_survey(api, ref):
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    do(api, ref, "ut_reaction", "gestionnaire", SATISFIED)


def test_tracking_shows_status_due_date_and_messages(client, filed):
    ref, token = filed
    resp = client.get(f"/suivi/{token}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert ref in html and "En cours de traitement" in html
    assert "08/12/2026" in html  # due date, written complaint: 15 calendar days
    assert f"Accusé de réception de votre réclamation {ref}" in html and "Martine Lefèvre" in html
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Referrer-Policy"] == "no-referrer"


def test_tracking_never_shows_internal_data(client, filed, app):
    ref, token = filed
    case = get_case(ref)
    # An internal comment and staff activity on the case.
    audit.record(case, "gestionnaire", "comment_added", data={"text": "COMMENTAIRE-PRIVE à ne pas montrer"})
    db.session.commit()
    html = client.get(f"/suivi/{token}").get_data(as_text=True)
    for secret in ("NOTE-INTERNE-QUALIF", "COMMENTAIRE-PRIVE", "gestionnaire", "Analyser la réclamation",
                   "billing", "high", "abus"):
        assert secret not in html, secret
    assert "Se déconnecter" not in html


@pytest.mark.parametrize("token", ["x" * 32, "short", "a/b", "%00" * 10])
def test_unknown_or_malformed_token_is_404_without_details(client, filed, token):
    ref, real = filed
    resp = client.get(f"/suivi/{token}")
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    assert ref not in html and "Martine" not in html


def test_prefix_of_a_real_token_is_404(client, filed):
    _ref, token = filed
    assert client.get(f"/suivi/{token[:-1]}").status_code == 404
    assert client.post(f"/suivi/{token[:-1]}/ajout", data={"text": "x"}).status_code == 404
    assert client.get(f"/suivi/{token[:-1]}/enquete").status_code == 404


def test_message_from_the_complainant_reaches_the_case_history(client, api, filed):
    ref, token = filed
    resp = client.post(f"/suivi/{token}/ajout", data={"text": "J'ai retrouvé le bon de livraison."})
    assert resp.status_code == 303
    case = get_case(ref)
    [event] = events(case, "complainant_message")
    assert event.actor == "complainant" and event.data["text"] == "J'ai retrouvé le bon de livraison."
    # Staff see it in the history (JSON API), the complainant sees it back under "Vos envois".
    history = api.get("gestionnaire", f"/api/cases/{ref}/history").get_json()["events"]
    assert "complainant_message" in [e["type"] for e in history]
    html = client.get(f"/suivi/{token}").get_data(as_text=True)
    assert "Vos envois" in html and "retrouvé le bon de livraison" in html


def test_attachment_is_stored_under_a_random_name(client, filed, app):
    ref, token = filed
    data = {"text": "Voici la facture.", "attachment": (io.BytesIO(PDF), "../../etc/facture.pdf")}
    resp = client.post(f"/suivi/{token}/ajout", data=data, content_type="multipart/form-data")
    assert resp.status_code == 303
    [event] = events(get_case(ref), "complainant_attachment")
    assert event.actor == "complainant"
    assert event.data["filename"] == "facture.pdf" and event.data["size"] == len(PDF)
    assert re.fullmatch(r"[0-9a-f]{32}", event.data["stored_name"])
    folder = Path(app.config["ATTACHMENT_DIR"])
    assert [p.name for p in folder.iterdir()] == [event.data["stored_name"]]
    assert (folder / event.data["stored_name"]).read_bytes() == PDF
    assert "facture.pdf" in client.get(f"/suivi/{token}").get_data(as_text=True)


class TestSmallFiles:
    @pytest.fixture
    def app_config(self):
        return {"ATTACHMENT_MAX_BYTES": 100}

    @pytest.mark.parametrize(("name", "content", "message"), [
        ("virus.exe", b"MZ\x90\x00", "Type de fichier non accepté"),
        ("facture.pdf", b"MZ\x90\x00 not a pdf", "Le contenu ne correspond pas à un fichier .pdf."),
        ("gros.pdf", b"%PDF" + b"x" * 200, "Fichier trop volumineux"),
        ("vide.pdf", b"", "Le fichier est vide."),
        ("sans-extension", b"%PDF", "Type de fichier non accepté"),
    ])
    def test_bad_files_are_refused(self, client, filed, app, name, content, message):
        ref, token = filed
        data = {"text": "", "attachment": (io.BytesIO(content), name)}
        resp = client.post(f"/suivi/{token}/ajout", data=data, content_type="multipart/form-data")
        assert resp.status_code == 422
        assert message in resp.get_data(as_text=True).replace("&#39;", "'")
        assert events(get_case(ref), "complainant_attachment") == []
        folder = Path(app.config["ATTACHMENT_DIR"])
        assert not folder.exists() or list(folder.iterdir()) == []


def test_empty_addition_is_refused(client, filed):
    ref, token = filed
    resp = client.post(f"/suivi/{token}/ajout", data={"text": "  "})
    assert resp.status_code == 422
    assert "Écrivez un message ou joignez un fichier." in resp.get_data(as_text=True)
    assert events(get_case(ref), "complainant_message") == []


def test_honeypot_on_the_addition_form(client, filed):
    ref, token = filed
    assert client.post(f"/suivi/{token}/ajout", data={"text": "spam", "website": "x"}).status_code == 400
    assert events(get_case(ref), "complainant_message") == []


# --- survey ------------------------------------------------------------------------------------------------

def test_survey_answer_completes_the_case(client, api, filed):
    ref, token = filed
    assert "Aucune enquête" in client.get(f"/suivi/{token}/enquete").get_data(as_text=True)
    to_survey(api, ref)
    assert "Donnez votre avis" in client.get(f"/suivi/{token}").get_data(as_text=True)
    page = client.get(f"/suivi/{token}/enquete").get_data(as_text=True)
    assert page.count('name="satisfaction_score" required type="radio"') == 5

    resp = client.post(f"/suivi/{token}/enquete", data={"satisfaction_score": "4", "satisfaction_comment": "Rapide."})
    assert resp.status_code == 303
    case = get_case(ref)
    assert case.satisfaction_score == 4 and case.completed is True and case.status == "closed"
    assert case.data["satisfaction_comment"] == "Rapide."
    row = db.session.scalars(select(TaskRow).where(TaskRow.case_id == case.id, TaskRow.bpmn_id == "ut_survey")).one()
    assert (row.state, row.completed_by) == ("completed", "complainant")
    [done] = [e for e in events(case, "task_completed") if e.bpmn_id == "ut_survey"]
    assert done.actor == "complainant"

    # A second answer is refused plainly and changes nothing.
    again = client.post(f"/suivi/{token}/enquete", data={"satisfaction_score": "1"})
    assert again.status_code == 409
    assert "déjà été enregistrée" in again.get_data(as_text=True)
    assert get_case(ref).satisfaction_score == 4
    # The case is closed: no more additions.
    closed = client.post(f"/suivi/{token}/ajout", data={"text": "Encore une chose"})
    assert closed.status_code == 409 and "Ce dossier est clos" in closed.get_data(as_text=True)


@pytest.mark.parametrize(("score", "message"), [
    ("", "Ce champ est obligatoire."), ("9", "La valeur doit être inférieure ou égale à 5."),
    ("abc", "Nombre entier attendu."), ("0", "La valeur doit être supérieure ou égale à 1."),
])
def test_invalid_survey_answer(client, api, filed, score, message):
    ref, token = filed
    to_survey(api, ref)
    resp = client.post(f"/suivi/{token}/enquete", data={"satisfaction_score": score, "satisfaction_comment": "Bof"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert message in html and "Bof" in html
    assert get_case(ref).completed is False


def test_survey_timed_out(client, api, filed):
    ref, token = filed
    to_survey(api, ref)
    clock.advance(days=31)
    assert ref in fire_due_timers()
    page = client.get(f"/suivi/{token}/enquete").get_data(as_text=True)
    assert "délai de réponse est dépassé" in page and 'name="satisfaction_score"' not in page
    assert client.post(f"/suivi/{token}/enquete", data={"satisfaction_score": "5"}).status_code == 409


# --- links in the messages ----------------------------------------------------------------------------------

class TestMessageLinks:
    @pytest.fixture
    def app_config(self):
        return {"PUBLIC_BASE_URL": "https://reclamations.example.org/"}

    def test_message_urls_match_the_public_routes(self, client, filed, app):
        ref, token = filed
        case = get_case(ref)
        with app.test_request_context():
            tracking, survey = messages.tracking_url(case), messages.tracking_url(case) + "/enquete"
        assert tracking == f"https://reclamations.example.org/suivi/{token}"
        adapter = app.url_map.bind("reclamations.example.org")
        assert adapter.match(tracking.removeprefix("https://reclamations.example.org")) == (
            "public.track", {"token": token})
        assert adapter.match(survey.removeprefix("https://reclamations.example.org"))[0] == "public.survey"
        ack = client.get(f"/suivi/{token}").get_data(as_text=True)
        assert tracking in ack  # the acknowledgment shown on the page carries the link


# --- lost tracking link -------------------------------------------------------------------------------------

def outbox(case: Case) -> list:
    from app.models import OutboxMessage

    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)
                                   .order_by(OutboxMessage.id)))


def test_lost_link_is_sent_again_to_the_email_on_file(client, filed):
    ref, token = filed
    resp = client.post("/suivi", data={"reference": ref.lower(), "email": "Martine@Example.fr"})
    assert resp.status_code == 200 and "vient d'y être envoyé" in resp.get_data(as_text=True)
    last = outbox(get_case(ref))[-1]
    assert last.template == "tracking_link" and last.recipient == "martine@example.fr"
    assert f"/suivi/{token}" in last.body
    assert token not in resp.get_data(as_text=True)


@pytest.mark.parametrize("data", [
    {"reference": "REC-2026-000001", "email": "intrus@example.fr"},  # someone else's reference
    {"reference": "REC-2026-999999", "email": "martine@example.fr"},  # no such case
])
def test_lost_link_answers_the_same_without_sending(client, filed, data):
    ref, _token = filed
    before = len(outbox(get_case(ref)))
    resp = client.post("/suivi", data=data)
    assert resp.status_code == 200 and "vient d'y être envoyé" in resp.get_data(as_text=True)
    assert len(outbox(get_case(ref))) == before


def test_lost_link_input_errors(client, filed):
    resp = client.post("/suivi", data={"reference": "n'importe quoi", "email": "pas-un-email"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Référence attendue" in html and "Adresse e-mail attendue." in html


def test_answered_case_shows_the_response_and_no_more_due_date(client, api, filed):
    ref, token = filed
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    html = client.get(f"/suivi/{token}").get_data(as_text=True)
    assert "Réponse envoyée" in html and "Nous vous remboursons les frais." in html
    assert "Réponse prévue" not in html
    assert "FAITS-INTERNES" not in html and "Erreur de paramétrage" not in html  # analysis stays internal


class TestRequestTooLarge:
    @pytest.fixture
    def app_config(self):
        return {"MAX_CONTENT_LENGTH": 2000}

    def test_oversized_request_gets_a_french_page(self, client, filed):
        ref, token = filed
        data = {"text": "", "attachment": (io.BytesIO(PDF + b"x" * 5000), "gros.pdf")}
        resp = client.post(f"/suivi/{token}/ajout", data=data, content_type="multipart/form-data")
        assert resp.status_code == 413
        assert "Envoi trop volumineux" in resp.get_data(as_text=True)
        assert events(get_case(ref), "complainant_attachment") == []
