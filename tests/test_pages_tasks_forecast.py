"""Breach forecast in the task list: a marker on rows of cases at risk, and the « À risque » filter."""

import re

import pytest

from app.extensions import db
from app.services.tasks import forecast
from tests.support.indicator_data import Builder, at, closed_history
from tests.support.pages import login, row_refs, text, user


@pytest.fixture
def cases(deployed):
    """Two open complaints at analysis since 22 November (median to closure: 6 days), one due too soon for that."""
    b = Builder()
    closed_history(b)
    entered = at(11, 22)
    made = {
        "risky": b.case(at(11, 21), kind="complaint", category="billing", due_at=at(11, 25), status="in_progress",
                        tasks=[("ut_analyse", entered, None)]),
        "safe": b.case(at(11, 21), kind="complaint", category="billing", due_at=at(12, 10), status="in_progress",
                       tasks=[("ut_analyse", entered, None)]),
        "late": b.case(at(11, 1), kind="complaint", category="billing", due_at=at(11, 20), status="in_progress",
                       tasks=[("ut_analyse", at(11, 2), None)]),
    }
    db.session.commit()
    return made


def rows_html(resp) -> list[str]:
    body = resp.get_data(as_text=True).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.split("<tr")[1:]


def test_marker_on_the_row_of_the_case_at_risk_only(app, cases):
    resp = login(app, "gestionnaire").get("/taches/?onglet=group")
    assert row_refs(resp) == [cases[k].reference for k in ("late", "risky", "safe")]
    late, risky, safe = rows_html(resp)
    assert "Risque de retard" in risky and "Risque de retard" not in late + safe
    assert "title=\"Clôture estimée le 28/11/2026, après l'échéance du 25/11/2026\"" in risky
    assert "Risque de retard : clôture estimée le 28/11/2026" in text(resp)  # for screen readers too
    assert "en retard" in late  # overdue, so no longer "at risk"


@pytest.mark.parametrize("scope, user", [("group", "gestionnaire"), ("all", "responsable")])
def test_at_risk_filter_keeps_only_rows_at_risk(app, cases, scope, user):
    resp = login(app, user).get(f"/taches/?onglet={scope}&risque=1")
    assert row_refs(resp) == [cases["risky"].reference]
    html = resp.get_data(as_text=True)
    assert 'name="risque" value="1" checked' in html and "À risque" in text(resp)
    tabs = re.search(r'<nav class="tabs".*?</nav>', html, re.S).group(0)
    assert all("risque=1" in href for href in re.findall(r'href="([^"]+)"', tabs))  # tabs keep the filter


def test_filter_and_marker_agree_for_a_case_with_two_ready_tasks(app, cases):
    b = Builder()
    both = b.case(at(11, 21), kind="complaint", category="billing", due_at=at(11, 26), status="in_progress",
                  tasks=[("ut_analyse", at(11, 22), None), ("ut_decide", at(11, 22), None)])  # no history for ut_decide
    db.session.commit()
    g = login(app, "gestionnaire")
    assert row_refs(g.get("/taches/?onglet=group&risque=1")) == [cases["risky"].reference, both.reference,
                                                                 both.reference]
    marked = [r for r in rows_html(g.get("/taches/?onglet=group")) if "Risque de retard" in r]
    assert len(marked) == 3  # the case's forecast is its latest estimate: both of its rows carry the marker


def test_filter_matches_forecast_for_cases(app, cases):
    from app.models import TaskRow
    from app.services.tasks import task_list

    ids = [c.id for c in cases.values()]
    expected = {i for i, f in forecast.forecast_for_cases(ids).items() if f.at_risk}
    found = set(db.session.scalars(db.select(TaskRow.case_id).where(forecast.task_at_risk())))
    assert found == expected == {cases["risky"].id}
    assert task_list.count_tasks(user("responsable"), "all", task_list.TaskFilters(at_risk=True)) == 1


def test_no_history_means_no_marker_and_an_empty_filter(app, deployed):
    b = Builder()
    b.case(at(11, 21), kind="complaint", category="billing", due_at=at(11, 25), status="in_progress",
           tasks=[("ut_analyse", at(11, 22), None)])
    db.session.commit()
    g = login(app, "gestionnaire")
    assert "Risque de retard" not in text(g.get("/taches/?onglet=group"))
    resp = g.get("/taches/?onglet=group&risque=1")
    assert row_refs(resp) == [] and "Aucune tâche dans cette vue avec ces filtres" in text(resp)
