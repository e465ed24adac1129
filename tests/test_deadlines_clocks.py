"""Deadline clocks: rules from the BPMN, calendar and French working days, pauses, deploy-time checks."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app import clock
from app.engine import DefinitionError
from app.extensions import db
from app.models import Case, CaseClock
from app.services.cases.lifecycle import fire_due_timers
from app.services.core import deadline_rules, definitions
from app.services.deadlines import clocks
from tests.support.flows import case, complaint_data, do, history_types, start

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parent.parent
QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"}
ANALYSE = {"facts": "Frais facturés deux fois.", "systemic": "no", "needs_information": "no"}


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def clocks_of(reference: str) -> list[CaseClock]:
    case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
    db.session.expire_all()
    return clocks.for_case(case_id)


def props_of(process: str, bpmn_id: str) -> dict:
    pspec = definitions.spec_for(definitions.active(process))
    for spec in (pspec.spec, *pspec.subprocess_specs.values()):
        if bpmn_id in spec.task_specs:
            return dict(spec.task_specs[bpmn_id].extensions)
    raise KeyError(bpmn_id)


# --- rules ------------------------------------------------------------------------------------------------

def test_channel_override_wins_over_kind_override_over_plain_days():
    props = {"clock": "answer", "days": "15", "days_by_kind": "request:10", "days_by_channel": "email:5,letter:15",
             "calendar_by_channel": "email:working"}
    assert deadline_rules.rule_from(props, {"channel": "email", "kind": "request"}).days == 5
    assert deadline_rules.rule_from(props, {"channel": "email", "kind": "request"}).calendar == "working"
    assert deadline_rules.rule_from(props, {"channel": "phone", "kind": "request"}).days == 10
    assert deadline_rules.rule_from(props, {"channel": "phone", "kind": "complaint"}).days == 15
    assert deadline_rules.rule_from(props, {"channel": "phone", "kind": "complaint"}).calendar == "calendar"


@pytest.mark.parametrize("props, message", [
    ({"days": "quinze"}, "nombre de jours invalide"),
    ({"days": "-3"}, "hors limites"),
    ({"calendar": "ouvre"}, "calendar ou working"),
    ({"days_by_channel": "email=5"}, "valeur:réglage"),
    ({"days_by_channel": "email:5,email:6"}, "deux fois"),
    ({"calendar_by_kind": "request:weekly"}, "calendar ou working"),
    ({"clock": "Réponse"}, "nom invalide"),
])
def test_bad_rules_are_refused_with_a_reason(props, message):
    with pytest.raises(ValueError, match=message):
        deadline_rules.rule_from(props, {})
    assert any(message in p for p in deadline_rules.check_properties("set_deadline", props))


def test_unknown_property_is_refused():
    assert deadline_rules.check_properties("set_deadline", {"dayz": "5"}) == ["propriété inconnue « dayz »"]
    assert deadline_rules.check_properties("stop_clock", {}) == ["propriété « clock » manquante"]
    assert deadline_rules.check_properties("set_status", {"status": "x"}) == []


def test_deploy_refuses_a_bad_deadline_property(ctx):
    xml = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
    bad = xml.replace('<camunda:property name="days_by_channel" value="phone:0,counter:0" />',
                      '<camunda:property name="days_by_channel" value="phone:zero" />')
    assert bad != xml
    with pytest.raises(DefinitionError) as exc:
        definitions.deploy_xml(bad, "test", "reclamation.bpmn")
    assert exc.value.problems == [("st_acknowledgment", "days_by_channel : nombre de jours invalide « zero »")]
    bad = xml.replace('<camunda:property name="pauses_clock" value="answer" />',
                      '<camunda:property name="pauses_clock" value="ans wer" />')
    with pytest.raises(DefinitionError, match="pauses_clock"):
        definitions.deploy_xml(bad, "test", "reclamation.bpmn")


# --- each clock of the shipped processes, in calendar and working days -----------------------------------
# Received Friday 18 December 2026: the windows cross weekends, Christmas (Fri 25) and New Year (Fri 1 Jan).

@pytest.mark.parametrize("process, bpmn_id, data, calendar, expected", [
    # acknowledgment: 2 working days (same day by phone or at the counter)
    ("reclamation", "st_acknowledgment", {"channel": "letter"}, None, paris(2026, 12, 22, 23, 59, 59)),
    ("reclamation", "st_acknowledgment", {"channel": "letter"}, "calendar", paris(2026, 12, 20, 23, 59, 59)),
    ("reclamation", "st_acknowledgment", {"channel": "phone"}, None, paris(2026, 12, 18, 23, 59, 59)),
    # answer to a written complaint: 15 calendar days
    ("reclamation", "st_deadline_written", {"channel": "letter"}, None, paris(2027, 1, 2, 23, 59, 59)),
    ("reclamation", "st_deadline_written", {"channel": "letter"}, "working", paris(2027, 1, 12, 23, 59, 59)),
    # answer to an oral complaint: 10 working days, skipping 25 December and 1 January
    ("reclamation", "st_deadline_oral", {"channel": "phone"}, None, paris(2027, 1, 5, 23, 59, 59)),
    ("reclamation", "st_deadline_oral", {"channel": "phone"}, "calendar", paris(2026, 12, 28, 23, 59, 59)),
    # holding letter: 2 working days after the answer's due date
    ("reclamation", "st_holding_letter", {"due_at": "2026-12-24"}, None, paris(2026, 12, 29, 23, 59, 59)),
    ("reclamation", "st_holding_letter", {"due_at": "2026-12-24"}, "calendar", paris(2026, 12, 26, 23, 59, 59)),
    # dispute analysis: 30 calendar days, then escalation
    ("litige", "st_escalation_deadline", {}, None, paris(2027, 1, 17, 23, 59, 59)),
    ("litige", "st_escalation_deadline", {}, "working", paris(2027, 2, 2, 23, 59, 59)),
])
def test_each_clock_in_calendar_and_working_days(deployed, process, bpmn_id, data, calendar, expected):
    props = props_of(process, bpmn_id)
    if calendar:
        props["calendar"] = calendar
    rule = deadline_rules.rule_from(props, data)
    start_at = data.get(rule.start_variable, "2026-12-18")
    due, _remind = deadline_rules.due_from(rule, datetime.fromisoformat(start_at).replace(tzinfo=PARIS), True)
    assert due == expected.astimezone(UTC)


def test_answer_clock_recorded_with_reminder_and_stopped_by_the_response(deployed, api):
    clock.set_now(paris(2026, 12, 21, 10, 0))  # Monday; the letter arrived on Friday 18
    ref = start(api, **complaint_data(written="no", channel="phone", received_at="2026-12-18"))["reference"]
    rows = {r.name: r for r in clocks_of(ref)}
    assert set(rows) == {"acknowledgment", "answer"}
    ack, answer = rows["acknowledgment"], rows["answer"]
    # Phone: same-day acknowledgment expected, registered on Monday: breached, and recorded as such.
    assert ack.stopped_at == clock.now() and ack.outcome == "breached"
    assert answer.calendar == "working" and answer.days == 10 and answer.stopped_at is None
    assert answer.due_at == paris(2027, 1, 5, 23, 59, 59).astimezone(UTC)
    data = case(api, ref)["data"]
    # Reminder 3 working days before: Wed 30 Dec (1 January is a holiday).
    assert data["remind_at"] == paris(2026, 12, 30, 23, 59, 59).astimezone(UTC).isoformat()
    assert case(api, ref)["next_timer_at"] is None  # the timers start with the treatment
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    assert case(api, ref)["next_timer_at"] == data["remind_at"]
    do(api, ref, "ut_analyse", "service", ANALYSE)
    clock.set_now(paris(2026, 12, 28, 9, 0))
    do(api, ref, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Remboursé."})
    answer = {r.name: r for r in clocks_of(ref)}["answer"]
    assert answer.stopped_at == clock.now() and answer.outcome == "met"
    assert "clock_stopped" in history_types(api, ref)


def test_paused_clock_holds_and_shifts_its_timers(deployed, api):
    ref = start(api, **complaint_data())["reference"]  # written, Monday 23 November 09:00 UTC: due 8 December
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    original = case(api, ref)
    assert original["due_at"] == "2026-12-08T09:00:00+00:00"
    clock.advance(days=2)
    do(api, ref, "ut_analyse", "service", {**ANALYSE, "needs_information": "yes",
                                           "information_request": "Copie de la facture"})
    answer = {r.name: r for r in clocks_of(ref)}["answer"]
    assert answer.paused_at == clock.now() and answer.state(clock.now()) == "paused"
    assert case(api, ref)["next_timer_at"] is None  # both timers held
    clock.advance(days=20)  # well past the original due date: nothing fires while the complainant is silent
    assert fire_due_timers() == []
    do(api, ref, "ut_await_info", "service", {"information_received": "Facture reçue"})
    answer = {r.name: r for r in clocks_of(ref)}["answer"]
    assert answer.paused_at is None and answer.paused_seconds == 20 * 86400
    assert answer.due_at == datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
    current = case(api, ref)
    assert current["due_at"] == "2026-12-28T09:00:00+00:00"
    assert current["data"]["remind_at"] == "2026-12-25T09:00:00+00:00"  # 3 calendar days before, shifted too
    assert current["next_timer_at"] == "2026-12-25T09:00:00+00:00"
    assert [t["due_at"] for t in current["tasks"]] == ["2026-12-28T09:00:00+00:00"]
    types = history_types(api, ref)
    assert types.count("clock_paused") == 1 and types.count("clock_resumed") == 1
    # The shifted timers fire at their new times, once each.
    clock.set_now(datetime(2026, 12, 25, 9, 0, 1, tzinfo=UTC))
    assert fire_due_timers() == [ref]
    assert {t["bpmn_id"] for t in case(api, ref)["tasks"]} == {"ut_analyse"}
    clock.set_now(datetime(2026, 12, 28, 9, 0, 1, tzinfo=UTC))
    assert fire_due_timers() == [ref]
    assert {t["bpmn_id"] for t in case(api, ref)["tasks"]} == {"ut_analyse", "ut_overdue"}
    assert fire_due_timers() == []
    assert history_types(api, ref).count("timer_fired") == 2


def test_completing_a_case_stops_its_running_clocks(deployed, api):
    resp = api.post("finance", "/api/cases", json={"process": "litige", "data": {
        "customer_name": "Acier Nord SA", "invoice_refs": "FA-9", "blocked_amount": 900.0,
        "block_reason": "Prix contesté"}})
    assert resp.status_code == 201, resp.get_json()
    ref = resp.get_json()["reference"]
    analysis = clocks_of(ref)[0]
    assert analysis.name == "analysis" and analysis.due_at == datetime(2026, 12, 23, 9, 0, tzinfo=UTC)
    clock.advance(days=3)
    do(api, ref, "ut_analyse", "commercial", {"justified": "not_justified", "analysis": "Livraison complète"})
    analysis = clocks_of(ref)[0]
    assert analysis.outcome == "met" and analysis.stopped_at == clock.now()
    assert analysis.stopped_at - analysis.started_at == timedelta(days=3)


def test_validator_names_the_element_with_a_bad_deadline_property():
    from app.services.processes.validation import validate

    xml = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
    tables = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.dmn")}
    assert validate(xml, None, tables)[1] == []  # remind_at is written by set_deadline (remind_before)
    bad = xml.replace('<camunda:property name="remind_before" value="3" />',
                      '<camunda:property name="remind_before" value="trois" />', 1)
    problems = validate(bad, None, tables)[1]
    assert [(p.element, p.message) for p in problems] == [
        ("st_deadline_written", "Propriétés de « set_deadline » : remind_before : nombre de jours invalide « trois »")]


def test_replay_of_a_paused_clock_matches_the_stored_case(deployed, api):
    from app.services.audit.verification import verify_case

    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    clock.advance(days=2)
    do(api, ref, "ut_analyse", "service", {**ANALYSE, "needs_information": "yes"})
    clock.advance(days=20)
    assert fire_due_timers() == []
    do(api, ref, "ut_await_info", "service", {"information_received": "Facture reçue"})
    clock.set_now(datetime(2026, 12, 25, 9, 0, 1, tzinfo=UTC))
    assert fire_due_timers() == [ref]
    case_row = db.session.scalar(select(Case).where(Case.reference == ref))
    assert verify_case(case_row) == []
