"""Each indicator against figures computed by hand from tests/indicator_data.py (period: November 2026)."""

import pytest

from app.services.core import sql_stats
from app.services.core.errors import Invalid
from app.services.indicators import figures as indicators
from tests.support.indicator_data import reference_set

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def data(deployed):
    return reference_set()


def figures(**args):
    return indicators.compute(indicators.parse_filters({**NOVEMBER, **args}))


def test_volume_and_breakdowns(data):
    f = figures()
    assert f["volume"]["granularity"] == "day" and f["volume"]["total"] == 9
    series = {s["bucket"]: s["count"] for s in f["volume"]["series"]}
    assert len(series) == 30 and sum(series.values()) == 9
    assert {k: v for k, v in series.items() if v} == {
        "2026-11-01": 1, "2026-11-02": 1, "2026-11-03": 2, "2026-11-05": 1, "2026-11-06": 1, "2026-11-10": 1,
        "2026-11-18": 1, "2026-11-20": 1}
    counts = {key: {i["key"]: i["count"] for i in items} for key, items in f["breakdowns"].items()}
    assert counts["origin"] == {"external_customer": 5, "internal_customer": 1, "supplier": 1, None: 2}
    assert counts["channel"] == {"letter": 2, "email": 1, "phone": 1, "counter": 1, "web": 2, None: 2}
    assert counts["kind"] == {"complaint": 6, "compliment": 1, None: 2}
    assert counts["category"] == {"billing": 2, "delivery": 1, "product": 1, "service": 1, "staff": 1, None: 3}
    labels = {i["key"]: i["label"] for i in f["breakdowns"]["origin"]}
    assert labels["external_customer"] == "Client externe" and labels[None] == "Non renseigné"


def test_processing_time(data):
    f = figures()["processing_time"]
    # overall, cases closed in November: L 7, A 10, I 10, G 15, B 17, F 1 days
    assert f["overall"] == {"count": 6, "median_days": 10.0, "p90_days": 16.0}
    steps = {(s["process"], s["bpmn_id"]): (s["count"], s["median_days"], s["p90_days"]) for s in f["steps"]}
    assert steps == {
        ("reclamation", "ut_qualify"): (6, 1.0, 1.0),  # D's qualification was completed in October
        ("reclamation", "ut_analyse"): (7, 3.0, 10.0),  # [1,1,3,3,4,10,10]: C's second pass counts
        ("reclamation", "ut_decide"): (7, 3.0, 4.0),  # [1,1,2,3,3,4,4]
        ("reclamation", "ut_reaction"): (6, 1.5, 2.0),  # [1,1,1,2,2,2]: interpolated median
        ("reclamation", "ut_handle_feedback"): (1, 1.0, 1.0),
        ("reclamation", "ut_survey"): (1, 1.0, 1.0),
    }


def test_answered_within_deadline(data):
    # A, B (exactly at the deadline), C (re-examined, answered again within the new deadline), F on time; G late.
    assert figures()["deadline"] == {"answered": 5, "on_time": 4, "late": 1, "share": 0.8}
    assert figures(channel="letter")["deadline"] == {"answered": 2, "on_time": 1, "late": 1, "share": 0.5}


def test_backlog_and_overdue(data):
    f = figures()
    backlog = {(s["process"], s["bpmn_id"]): s["counts"] for s in f["backlog"]["steps"]}
    assert f["backlog"]["total"] == 4  # closed B's survey task is not backlog
    assert backlog == {
        ("reclamation", "ut_analyse"): {"0-7": 1, "8-15": 0, "16-30": 0, "31+": 1},
        ("reclamation", "ut_reaction"): {"0-7": 0, "8-15": 0, "16-30": 1, "31+": 0},
        ("litige", "ut_analyse"): {"0-7": 1, "8-15": 0, "16-30": 0, "31+": 0},
    }
    assert f["overdue"]["count"] == 1
    assert [(c["reference"], c["days_late"]) for c in f["overdue"]["cases"]] == [(data["D"].reference, 19.0)]


def test_satisfaction(data):
    f = figures()
    # closed in November: surveys sent to A, B, F, G, L; answered by A (4), B (2), L (5)
    assert f["satisfaction"] == {"surveys_sent": 5, "answered": 3, "response_rate": 0.6, "average_score": 3.67}
    paths = [(p["path"], p["count"], p["average_score"]) for p in f["satisfaction_by_path"]]
    assert paths == [
        (["ut_qualify", "ut_analyse", "ut_decide", "ut_reaction"], 2, 3.0),
        (["ut_qualify", "ut_analyse", "ut_decide", "ut_reaction", "ut_analyse", "ut_decide", "ut_reaction"], 1, 5.0),
    ]
    assert f["satisfaction_by_path"][0]["names"][0] == "Qualifier la réclamation"
    versions = [(v["process"], v["version"], v["count"], v["average_score"]) for v in f["satisfaction_by_version"]]
    assert versions == [("reclamation", 1, 2, 4.5), ("reclamation", 2, 1, 2.0)]


def test_disputes(data):
    assert figures()["disputes"] == {"count": 2, "blocked_amount": 1250.5, "credited_amount": 400.0,
                                     "average_days_blocked": 7.5, "open_count": 1, "open_blocked_amount": 250.5}
    assert figures(process="reclamation")["disputes"]["count"] == 0
    assert figures(process="litige")["volume"]["total"] == 2


def test_top_causes(data):
    f = figures()["top_causes"]
    assert f["previous_period"] == {"from": "2026-10-02", "to": "2026-10-31"}
    assert [(c["key"], c["count"], c["previous"], c["trend"]) for c in f["categories"]] == [
        ("billing", 2, 1, 1), ("delivery", 1, 0, 1), ("product", 1, 1, 0), ("service", 1, 0, 1),
        ("staff", 1, 0, 1)]
    assert [(c["key"], c["count"], c["previous"], c["trend"]) for c in f["root_causes"]] == [
        ("Double facturation", 2, 1, 1), ("Accueil", 1, 0, 1), ("Retard transporteur", 1, 0, 1)]
    assert f["categories"][0]["label"] == "Facturation"


def test_filters_combine(data):
    f = figures(channel="letter", category="staff")
    assert f["volume"]["total"] == 1 and f["deadline"]["late"] == 1 and f["processing_time"]["overall"]["count"] == 1


def test_no_cases(deployed):
    f = figures()
    assert f["volume"]["total"] == 0 and all(s["count"] == 0 for s in f["volume"]["series"])
    assert f["breakdowns"] == {"origin": [], "kind": [], "channel": [], "category": []}
    assert f["processing_time"] == {"overall": {"count": 0, "median_days": None, "p90_days": None}, "steps": []}
    assert f["deadline"] == {"answered": 0, "on_time": 0, "late": 0, "share": None}
    assert f["backlog"]["total"] == 0 and f["overdue"] == {"count": 0, "cases": []}
    assert f["satisfaction"] == {"surveys_sent": 0, "answered": 0, "response_rate": None, "average_score": None}
    assert f["disputes"]["count"] == 0 and f["disputes"]["average_days_blocked"] is None
    assert f["satisfaction_by_path"] == [] and f["satisfaction_by_version"] == [] and f["forecast"]["count"] == 0


def test_granularity_and_weeks(data):
    f = figures(**{"from": "2026-09-01", "to": "2026-11-30"})
    assert f["volume"]["granularity"] == "week"
    weeks = {s["bucket"]: s["count"] for s in f["volume"]["series"]}
    assert weeks["2026-10-12"] == 1 and weeks["2026-10-19"] == 1  # H (Thursday 15th), D (Tuesday 20th)
    assert weeks["2026-10-26"] == 1  # G (Sunday 1 November) belongs to the week starting Monday 26 October
    assert weeks["2026-11-02"] == 5  # A (Monday 2nd), I and L (3rd), B (5th), C (6th)
    assert sum(weeks.values()) == 11
    months = figures(**{"from": "2026-01-01", "to": "2026-12-31"})["volume"]
    assert months["granularity"] == "month"
    assert {s["bucket"]: s["count"] for s in months["series"] if s["count"]} == {"2026-10-01": 2, "2026-11-01": 9}


@pytest.mark.parametrize("args,field", [
    ({"from": "2026-13-01"}, "from"), ({"to": "hier"}, "to"), ({"from": "2026-12-01", "to": "2026-11-01"}, "from"),
    ({"from": "2020-01-01", "to": "2026-11-01"}, "from"), ({"channel": "x" * 101}, "channel")])
def test_bad_filters(deployed, args, field):
    with pytest.raises(Invalid) as exc:
        indicators.parse_filters(args)
    assert field in exc.value.errors


def test_default_period_is_last_30_days(deployed):
    f = indicators.parse_filters({})
    assert (f.start.isoformat(), f.end.isoformat()) == ("2026-10-25", "2026-11-23")


def test_processing_time_by_index_walks(data, monkeypatch):
    """Large populations are walked through the index instead of read whole: the same figures."""
    read = figures()["processing_time"]
    monkeypatch.setattr(sql_stats, "FETCH_LIMIT", 0)
    walked = figures()["processing_time"]
    assert walked == read and walked["overall"] == {"count": 6, "median_days": 10.0, "p90_days": 16.0}
    assert figures(category="billing")["processing_time"]["overall"] == {"count": 1, "median_days": 10.0,
                                                                        "p90_days": 10.0}


@pytest.mark.parametrize("period", [("2026-10-15", "2026-11-30"), ("2026-10-01", "2026-11-15"),
                                    ("2026-11-02", "2026-11-29"), ("2026-09-01", "2026-11-30"),
                                    ("2026-01-01", "2026-12-31")])
def test_month_rows_equal_their_days(data, monkeypatch, period):
    """Whole months are read from the month rows of the rollup: the figures equal those read day by day."""
    args = {"from": period[0], "to": period[1]}
    mixed = indicators.compute(indicators.parse_filters(args))
    original = indicators._rollup
    monkeypatch.setattr(indicators, "_rollup", lambda *a, **kw: original(*a, **{**kw, "by_day": True}))
    daily = indicators.compute(indicators.parse_filters(args))
    assert {k: v for k, v in mixed.items() if k != "generated_at"} == \
        {k: v for k, v in daily.items() if k != "generated_at"}
    if period == ("2026-10-15", "2026-11-30"):
        assert mixed["volume"]["total"] == 11  # H and D in October, the nine of November
