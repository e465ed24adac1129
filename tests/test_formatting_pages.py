"""French numbers, amounts, dates and Paris times (app/formatting.py, Babel) in forms and on pages."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app import formatting
from app.forms.fields import FieldSpec, validate_submission
from app.services.cases import lifecycle as cases
from tests.support.pages import login, ready_task, start_case, text, user

NNBSP = "\u202f"


def test_amounts_and_numbers_are_french():
    assert formatting.format_amount(1250.4) == f"1{NNBSP}250,40\u00a0€"
    assert formatting.format_number(10000) == f"10{NNBSP}000"
    assert formatting.format_number(12.5, 2) == "12,50"


@pytest.mark.parametrize("typed", ["1 250,40", "1250,40 €", "1250.40", f"1{NNBSP}250,40", "1\u00a0250,40 €",
                                   "1250,4"])
def test_what_french_people_type_for_an_amount(typed):
    assert formatting.parse_amount(typed) == Decimal("1250.40")
    spec = FieldSpec(name="amount", label="Montant (€)", type="decimal", min=0)
    assert validate_submission([spec], {"amount": typed}) == ({"amount": 1250.4}, {})


@pytest.mark.parametrize("typed", ["douze", "1.250.40", "1,2,3", "€", "--3"])
def test_what_is_not_an_amount(typed):
    spec = FieldSpec(name="amount", label="Montant (€)", type="decimal")
    assert validate_submission([spec], {"amount": typed})[1] == {"amount": "Nombre attendu (par exemple 12,50)."}


def test_paris_times_typed_and_shown_the_french_way():
    moment = formatting.parse_datetime_paris("03/12/2026 08:40")
    assert moment.astimezone(UTC) == datetime(2026, 12, 3, 7, 40, tzinfo=UTC)  # winter: UTC+1
    assert formatting.parse_datetime_paris("03/07/2026 à 8h40").astimezone(UTC).hour == 6  # summer: UTC+2
    assert formatting.format_datetime_paris(datetime(2026, 12, 3, 7, 40, tzinfo=UTC)) == "03/12/2026 08:40"
    assert formatting.format_date_fr("2026-12-03", "long") == "3 décembre 2026"
    with pytest.raises(ValueError):
        formatting.parse_datetime_paris("31/02/2026 08:40")
    spec = FieldSpec(name="on", label="Date", type="date")
    assert validate_submission([spec], {"on": "03/12/2026"}) == ({"on": "2026-12-03"}, {})


def test_amounts_shown_french_on_the_case_and_task_pages(app, deployed):
    case = start_case(amount="1 250,40")  # the staff form accepts what was typed
    assert case.data["amount"] == 1250.4
    page = login(app, "gestionnaire").get(f"/dossiers/{case.reference}").get_data(as_text=True)
    assert f"<dd>1{NNBSP}250,40\u00a0€</dd>" in page
    task = ready_task(case, "ut_qualify")
    page = login(app, "gestionnaire").get(f"/taches/{task.id}").get_data(as_text=True)
    assert f"<dd>1{NNBSP}250,40\u00a0€</dd>" in page


def test_audit_state_at_a_paris_moment_typed_the_french_way(app, deployed):
    case = start_case()
    cases.complete_task(user("gestionnaire"), ready_task(case, "ut_qualify").id,
                        {"admissible": "yes", "category": "billing", "severity": "low"})
    first = case.received_at.astimezone(formatting.PARIS)
    typed = first.strftime("%d/%m/%Y %H:%M")
    resp = login(app, "auditeur").get(f"/audit/cases/{case.reference}/state", query_string={"at": typed})
    assert resp.status_code == 200
    page = text(resp)
    assert "Après l'événement" in page and "attendus, par exemple" not in page
    bad = text(login(app, "auditeur").get(f"/audit/cases/{case.reference}/state", query_string={"at": "demain"}))
    assert "par exemple 03/12/2026 08:40" in bad


def test_letters_show_amounts_the_french_way(app, deployed):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import OutboxMessage
    from tests.support.thread import ANALYSE, QUALIFY

    case = start_case()
    for bpmn_id, who, data in (("ut_qualify", "gestionnaire", QUALIFY), ("ut_analyse", "service", ANALYSE),
                               ("ut_decide", "gestionnaire", {"decision": "partly", "compensation": "1 250,40",
                                                              "response_text": "Geste accordé."})):
        cases.complete_task(user(who), ready_task(case, bpmn_id).id, data)
    letter = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id,
                                                            OutboxMessage.template == "response")).one()
    assert f"Un geste commercial de 1{NNBSP}250,40\u00a0€ vous est accordé." in letter.body
