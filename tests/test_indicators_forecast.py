"""Breach forecast: estimated closure from past durations of similar closed cases, with fallbacks."""


from datetime import timedelta

from app.services.indicators import figures as indicators
from app.services.tasks import forecast
from tests.support.indicator_data import Builder, at, closed_history


def test_forecast_for_cases(deployed):
    b = Builder()
    closed_history(b)  # median 6 days from entering analysis to closure
    entered = at(11, 22)
    risky = b.case(at(11, 21), kind="complaint", category="billing", due_at=at(11, 25), status="in_progress",
                   tasks=[("ut_analyse", entered, None)])
    safe = b.case(at(11, 21), kind="complaint", category="billing", due_at=at(12, 10), status="in_progress",
                  tasks=[("ut_analyse", entered, None)])
    # no closed delivery cases: falls back to complaints of any category at that step
    fallback = b.case(at(11, 21), kind="complaint", category="delivery", due_at=at(11, 26), status="in_progress",
                      tasks=[("ut_analyse", entered, None)])
    unknown = b.case(at(11, 21), kind="complaint", category="billing", due_at=at(11, 24), status="in_progress",
                     tasks=[("ut_decide", entered, None)])
    closed = b.case(at(11, 1), kind="complaint", closed_at=at(11, 5), status="closed")
    found = forecast.forecast_for_cases([risky.id, safe.id, fallback.id, unknown.id, closed.id])
    assert set(found) == {risky.id, safe.id, fallback.id, unknown.id}
    assert found[risky.id].estimated_at == at(11, 28) and found[risky.id].at_risk and found[risky.id].samples == 5
    assert found[safe.id].estimated_at == at(11, 28) and not found[safe.id].at_risk
    assert found[fallback.id].estimated_at == at(11, 28) and found[fallback.id].at_risk
    assert found[unknown.id].estimated_at is None and not found[unknown.id].at_risk
    assert forecast.forecast_for_cases([]) == {}

    figures = indicators.compute(indicators.parse_filters({}))
    assert figures["forecast"]["count"] == 2
    assert [c["reference"] for c in figures["forecast"]["cases"]] == [risky.reference, fallback.reference]
    only_billing = indicators.compute(indicators.parse_filters({"category": "billing"}))["forecast"]
    assert [c["reference"] for c in only_billing["cases"]] == [risky.reference]


def test_too_few_samples_and_overdue(deployed):
    b = Builder()
    closed_history(b, days=(4, 5, 6, 7))  # four cases only: below the minimum at every level
    case = b.case(at(11, 21), kind="complaint", category="billing", due_at=at(11, 25), status="in_progress",
                  tasks=[("ut_analyse", at(11, 22), None)])
    late = b.case(at(11, 1), kind="complaint", category="billing", due_at=at(11, 20), status="in_progress",
                  tasks=[("ut_analyse", at(11, 2), None)])
    found = forecast.forecast_for_cases([case.id, late.id])
    assert found[case.id].estimated_at is None and not found[case.id].at_risk
    assert found[late.id].overdue and not found[late.id].at_risk
    closed_history(b, days=(30,))  # fifth sample: now estimated; the estimate is never before now
    found = forecast.forecast_for_cases([late.id])
    # median of [4, 5, 6, 7, 30] is 6 days after 2 November, already past: the estimate is now
    assert found[late.id].estimated_at == at(11, 23) and found[late.id].samples == 5


def test_medians_come_from_the_latest_closures_only(deployed, monkeypatch):
    """Past HISTORY_CASES closures in the period, the older ones no longer count: the cold computation is
    bounded however many cases close."""
    b = Builder()
    for n, closed in ((30, at(10, 2)), (30, at(10, 3))):  # two old, slow closures
        b.case(at(9, 1), kind="complaint", category="billing", status="closed", closed_at=closed,
               tasks=[("ut_analyse", closed - timedelta(days=n), closed - timedelta(days=n - 1))])
    closed_history(b, days=(4, 5, 6, 7, 8))  # five later ones: closed 5 to 9 October
    case = b.case(at(11, 21), kind="complaint", category="billing", due_at=at(12, 20), status="in_progress",
                  tasks=[("ut_analyse", at(11, 22), None)])
    forecast._CACHE.clear()
    everything = forecast.forecast_for_cases([case.id])[case.id]
    assert everything.samples == 7 and everything.estimated_at == at(11, 29)  # median of 4..8, 30, 30: 7 days
    monkeypatch.setattr(forecast, "HISTORY_CASES", 5)
    forecast._CACHE.clear()
    latest = forecast.forecast_for_cases([case.id])[case.id]
    assert latest.samples == 5 and latest.estimated_at == at(11, 28)  # median of 4..8: 6 days
