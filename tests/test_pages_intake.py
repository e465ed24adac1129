"""Staff registration ("Nouveau dossier"): start form built from BPMN, every field type checked, duplicates."""

from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case
from app.services.cases import lifecycle as cases
from app.services.cases.duplicates import find_duplicates, similarity
from tests.support.pages import login, start_case, text

PHONE = {"channel": "phone", "origin": "external_customer", "kind": "complaint", "customer_name": "Paul Girard",
         "customer_phone": "06 12 34 56 78", "description": "Coupure de service non annoncée hier soir.",
         "amount": "12,50", "received_at": "2026-11-20", "written": "no"}


def count_cases() -> int:
    return db.session.scalar(select(func.count()).select_from(Case))


def test_choose_process_lists_only_startable(app, deployed):
    html = login(app, "accueil").get("/dossiers/nouveau").get_data(as_text=True)
    assert 'href="/dossiers/nouveau/reclamation"' in html
    assert 'href="/dossiers/nouveau/litige"' not in html  # disputes are opened by the complaint process


def test_start_form_rendered_from_bpmn(app, deployed):
    html = login(app, "accueil").get("/dossiers/nouveau/reclamation").get_data(as_text=True)
    assert '<select aria-required="true" id="channel" name="channel" required>' in html  # 6 options: a select
    assert 'checked id="origin-0" name="origin" required type="radio" value="external_customer"' in html
    assert 'id="customer_email" maxlength="254" name="customer_email"' in html
    # written or oral: asked only for the phone and the counter (the other channels are written by nature)
    assert 'data-required-if="channel=phone,counter"' in html and 'name="written" type="radio" value="no"' in html
    assert 'id="received_at" name="received_at" type="date"' in html
    assert 'id="amount" inputmode="decimal" name="amount" type="text"' in html
    assert '<textarea aria-required="true" id="description" maxlength="10000"' in html


def test_register_phone_complaint(app, deployed):
    resp = login(app, "accueil").post("/dossiers/nouveau/reclamation", data=PHONE)
    assert resp.status_code == 302
    case = db.session.scalars(select(Case)).one()
    assert resp.location.endswith(f"/dossiers/{case.reference}")
    assert (case.channel, case.created_by, case.customer_name) == ("phone", "accueil", "Paul Girard")
    assert case.data["amount"] == 12.5 and case.data["written"] == "no"
    assert case.received_at.astimezone(ZoneInfo("Europe/Paris")).date().isoformat() == "2026-11-20"


@pytest.mark.parametrize("field, value, message", [
    ("channel", "pigeon", "Choix invalide."),  # enum as select
    ("origin", "martian", "Choix invalide."),  # enum as radios
    ("customer_name", "", "Ce champ est obligatoire."),  # string, required
    ("customer_name", "x" * 201, "200 caractères au maximum."),  # string, maxlength
    ("customer_email", "pas-un-email", "Le format de la valeur est incorrect."),  # string, pattern
    ("description", "", "Ce champ est obligatoire."),  # text
    ("amount", "douze", "Nombre attendu (par exemple 12,50)."),  # decimal
    ("amount", "-3", "La valeur doit être supérieure ou égale à 0."),  # decimal, min
    ("received_at", "2026-02-30", "Cette date n'existe pas."),  # date
    ("received_at", "20.11.2026", "Date attendue au format JJ/MM/AAAA (ou AAAA-MM-JJ)."),  # date format
])
def test_bad_input_of_every_type(app, deployed, field, value, message):
    resp = login(app, "accueil").post("/dossiers/nouveau/reclamation", data={**PHONE, field: value})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'<p class="error" id="{field}-error">{escape(message)}</p>' in html
    assert "Coupure de service non annoncée hier soir." in html or field == "description"  # typed text kept
    if field in ("customer_email", "amount", "received_at"):
        assert f'value="{value}"' in html  # the wrong value is shown back for correction
    assert count_cases() == 0


def test_only_start_lane_and_no_auditor(app, deployed):
    assert login(app, "gestionnaire").get("/dossiers/nouveau/reclamation").status_code == 403
    assert login(app, "gestionnaire").post("/dossiers/nouveau/reclamation", data=PHONE).status_code == 403
    assert login(app, "auditeur").get("/dossiers/nouveau").status_code == 403
    assert login(app, "auditeur").post("/dossiers/nouveau/reclamation", data=PHONE).status_code == 403
    assert login(app, "accueil").get("/dossiers/nouveau/inconnu").status_code == 404
    assert count_cases() == 0


def test_duplicates_shown_then_link_to_existing(app, deployed):
    first = start_case(customer_name="Paul Girard", customer_email="paul@example.fr", invoice_refs="FA-9",
                       description="Coupure de service non annoncée hier soir dans tout le quartier.")
    a = login(app, "accueil")
    resp = a.post("/dossiers/nouveau/reclamation", data=PHONE)
    assert resp.status_code == 200 and count_cases() == 1
    page = text(resp)
    assert "Dossiers ouverts qui semblent identiques" in page
    assert first.reference in page and "même nom de réclamant" in page and "description proche" in page
    resp = a.post("/dossiers/nouveau/reclamation", data={**PHONE, "link_to": first.reference})
    assert resp.status_code == 302 and resp.location.endswith(f"/dossiers/{first.reference}")
    assert count_cases() == 1
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "intake_linked")).one()
    assert event.case_id == first.id and event.actor == "accueil"
    assert event.data["channel"] == "phone" and event.data["data"]["customer_phone"] == "06 12 34 56 78"
    page = text(a.get(f"/dossiers/{first.reference}"))
    assert "Nouveau contact rattaché" in page and "06 12 34 56 78" in page


def test_duplicates_confirm_new(app, deployed):
    start_case(customer_name="Paul Girard", description="Autre chose.")
    a = login(app, "accueil")
    assert a.post("/dossiers/nouveau/reclamation", data=PHONE).status_code == 200
    resp = a.post("/dossiers/nouveau/reclamation", data={**PHONE, "confirm_new": "1"})
    assert resp.status_code == 302 and count_cases() == 2


def test_link_to_closed_or_unknown_case_refused(app, deployed):
    a = login(app, "accueil")
    resp = a.post("/dossiers/nouveau/reclamation", data={**PHONE, "link_to": "REC-1999-000009"})
    assert resp.status_code == 404 and count_cases() == 0


def test_find_duplicates_rules(ctx, deployed):
    base = start_case(customer_name="Martine Lefèvre", customer_email="martine@example.fr",
                      invoice_refs="FA-2026-1182, FA-2026-1183", description="Frais de livraison facturés deux fois.")
    other = start_case(customer_name="Quelqu'un d'autre", customer_email="x@example.fr", invoice_refs="ZZ-1",
                       description="Rien à voir avec la livraison ni les frais ni la facture.")
    found = lambda **d: {x.case.reference: x.reasons for x in find_duplicates(d)}  # noqa: E731
    assert found(customer_name="MARTINE LEFEVRE") == {base.reference: ["même nom de réclamant"]}
    assert found(customer_email="Martine@Example.fr") == {base.reference: ["même e-mail"]}
    assert found(invoice_refs="fa-2026-1183") == {base.reference: ["même facture : FA-2026-1183"]}
    assert found(invoice_refs="FA-2026-118") == {}  # a prefix of a reference is not the same invoice
    similar = found(description="Les frais de livraison ont été facturés deux fois !")
    assert list(similar) == [base.reference] and similar[base.reference][0].startswith("description proche")
    assert found(customer_name="Inconnu", description="Bonjour") == {}
    assert other.reference not in found(customer_name="Martine Lefèvre")
    # closed cases are not duplicates; a case is not its own duplicate
    assert find_duplicates({"customer_name": "Martine Lefèvre"}, exclude_id=base.id) == []
    base.completed = True
    db.session.commit()
    assert found(customer_name="Martine Lefèvre") == {}


def test_similarity_ignores_accents_case_and_stop_words():
    assert similarity("Facturé DEUX fois", "facture deux fois") == 1.0
    assert similarity("le la les", "le la les") == 0.0
    assert similarity("", "abc") == 0.0


def test_staff_registration_shares_the_service_validation(ctx, deployed):
    from app.services.core.errors import Invalid
    from tests.support.pages import user

    with pytest.raises(Invalid) as exc:
        cases.start_case(user("accueil"), "reclamation", {**PHONE, "amount": "douze"}, html=True)
    assert exc.value.errors == {"amount": "Nombre attendu (par exemple 12,50)."}


def test_received_date_in_the_future_is_refused(app, deployed):
    from app import clock

    tomorrow = (clock.now().astimezone(ZoneInfo("Europe/Paris")).date().toordinal() + 1)
    from datetime import date

    resp = login(app, "accueil").post("/dossiers/nouveau/reclamation",
                                      data={**PHONE, "received_at": date.fromordinal(tomorrow).isoformat()})
    assert resp.status_code == 422
    assert "La date de réception ne peut pas être postérieure à aujourd’hui." in text(resp)
    assert count_cases() == 0


@pytest.mark.parametrize("channel, written, due_day", [
    ("registered_letter", None, "2026-12-05"), ("letter", None, "2026-12-05"), ("email", None, "2026-12-05"),
    ("phone", "no", "2026-12-04"), ("phone", "yes", "2026-12-05"), ("counter", "no", "2026-12-04")])
def test_the_channel_says_whether_a_complaint_is_written(api, deployed, channel, written, due_day):
    """A registered letter is written by nature: 15 calendar days; an oral complaint: 10 working days."""
    from tests.support import flows

    data = flows.complaint_data(channel=channel, received_at="2026-11-20")  # a Friday
    data.pop("written")
    if written:
        data["written"] = written
    case = flows.case(api, flows.start(api, **data)["reference"])
    assert case["due_at"][:10] == due_day, case["due_at"]


def test_phone_complaint_must_say_written_or_oral(api, deployed):
    from tests.support import flows

    data = flows.complaint_data(channel="phone")
    data.pop("written")
    resp = api.post("accueil", "/api/cases", json={"process": "reclamation", "data": data})
    assert resp.status_code == 422 and "written" in resp.get_json()["errors"]
