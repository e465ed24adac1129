"""Exports and access: the CSV figures equal the JSON figures; who may read the dashboard and the API."""

import csv
import io

import pytest

from app.extensions import db
from tests.support.auth import login
from tests.support.indicator_data import Builder, at, reference_set

QUERY = "from=2026-11-01&to=2026-11-30"
READERS = ["qualite", "responsable", "direction", "auditeur", "admin"]
OTHERS = ["accueil", "gestionnaire", "service", "finance", "commercial", "proprietaire"]


def parse_csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def same(csv_value: str, json_value) -> bool:
    if json_value is None:
        return csv_value == ""
    if isinstance(json_value, (int, float)) and not isinstance(json_value, bool):
        return float(csv_value) == float(json_value)
    return csv_value == str(json_value)


def test_indicators_csv_equals_json(api, deployed):
    reference_set()
    resp = api.get("qualite", f"/api/indicators?{QUERY}")
    assert resp.status_code == 200
    figures = resp.get_json()
    login(api.client, "qualite")
    resp = api.client.get(f"/reports/indicators.csv?{QUERY}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = parse_csv(resp.get_data(as_text=True))
    assert rows[0] == ["indicator", "dimension", "measure", "value"]
    table = {(i, d, m): v for i, d, m, v in rows[1:]}
    assert len(table) == len(rows) - 1  # one row per figure

    # Every JSON figure, read here without the exporter's code, is in the CSV with the same value.
    expected = {("volume", "", "total"): figures["volume"]["total"]}
    expected.update({("volume", s["bucket"], "count"): s["count"] for s in figures["volume"]["series"]})
    for key, items in figures["breakdowns"].items():
        expected.update({(f"breakdown_{key}", i["key"] or "", "count"): i["count"] for i in items})
    for m in ("count", "median_days", "p90_days"):
        expected[("processing_time", "overall", m)] = figures["processing_time"]["overall"][m]
        expected.update({("processing_time", f"{s['process']}:{s['bpmn_id']}", m): s[m]
                         for s in figures["processing_time"]["steps"]})
    expected.update({("deadline", "", m): v for m, v in figures["deadline"].items()})
    for s in figures["backlog"]["steps"]:
        expected.update({("backlog", f"{s['process']}:{s['bpmn_id']}", b): n for b, n in s["counts"].items()})
    expected[("overdue", "", "count")] = figures["overdue"]["count"]
    expected.update({("satisfaction", "", m): v for m, v in figures["satisfaction"].items()})
    expected.update({("disputes", "", m): v for m, v in figures["disputes"].items()})
    for c in figures["top_causes"]["root_causes"]:
        expected.update({("top_root_cause", c["key"], m): c[m] for m in ("count", "previous", "trend")})
    for c in figures["top_causes"]["categories"]:
        expected.update({("top_category", c["key"], m): c[m] for m in ("count", "previous", "trend")})
    for v in figures["satisfaction_by_version"]:
        expected.update({("satisfaction_by_version", f"{v['process']} v{v['version']}", m): v[m]
                         for m in ("count", "average_score")})
    for p in figures["satisfaction_by_path"]:
        expected.update({("satisfaction_by_path", f"{p['process']}:{'>'.join(p['path'])}", m): p[m]
                         for m in ("count", "average_score")})
    expected[("forecast", "", "at_risk")] = figures["forecast"]["count"]
    assert len(expected) > 60
    missing = [k for k in expected if k not in table]
    assert missing == []
    wrong = {k: (table[k], v) for k, v in expected.items() if not same(table[k], v)}
    assert wrong == {}
    # and a few values checked against the hand-computed ones
    assert table[("deadline", "", "share")] == "0.8" and table[("disputes", "", "blocked_amount")] == "1250.5"


def test_cases_csv(api, deployed):
    cases = reference_set()
    Builder().case(at(11, 21), channel="web", kind="complaint", customer_name="=HYPERLINK(\"http://x\")",
                   root_cause="@SUM(A1)")
    login(api.client, "direction")
    resp = api.client.get(f"/reports/cases.csv?{QUERY}&channel=letter")
    rows = parse_csv(resp.get_data(as_text=True))
    assert rows[0][:3] == ["reference", "process_key", "version"]
    assert sorted(r[0] for r in rows[1:]) == sorted([cases["A"].reference, cases["G"].reference])
    all_rows = parse_csv(api.client.get(f"/reports/cases.csv?{QUERY}").get_data(as_text=True))
    assert len(all_rows) - 1 == 10  # the nine November cases of the reference set and the one above
    last = {h: v for h, v in zip(all_rows[0], all_rows[-1], strict=True)}
    assert last["customer_name"] == "'=HYPERLINK(\"http://x\")" and last["root_cause"] == "'@SUM(A1)"
    a = next(dict(zip(all_rows[0], r, strict=True)) for r in all_rows if r[0] == cases["A"].reference)
    assert (a["category"], a["satisfaction_score"], a["received_at"]) == ("billing", "4", "2026-11-02T09:00:00+00:00")


@pytest.mark.parametrize("name", READERS)
def test_readers(api, deployed, name):
    assert api.get(name, f"/api/indicators?{QUERY}").status_code == 200
    login(api.client, name)
    resp = api.client.get(f"/reports/?{QUERY}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Indicateurs" in html and 'data-chart="volume"' in html and "chart.umd.js" in html
    assert api.client.get(f"/reports/indicators.csv?{QUERY}").status_code == 200
    assert api.client.get(f"/reports/cases.csv?{QUERY}").status_code == 200


@pytest.mark.parametrize("name", OTHERS)
def test_others_refused(api, deployed, name):
    assert api.get(name, f"/api/indicators?{QUERY}").status_code == 403
    login(api.client, name)
    for url in ("/reports/", "/reports/indicators.csv", "/reports/cases.csv", "/actions/"):
        assert api.client.get(url).status_code == 403, url


def test_anonymous(api, deployed):
    assert api.get(None, "/api/indicators").status_code == 401
    assert api.client.get("/reports/").status_code in (302, 401)


def test_bad_input(api, deployed):
    resp = api.get("qualite", "/api/indicators?from=2026-02-30")
    assert resp.status_code == 422 and "from" in resp.get_json()["errors"]
    login(api.client, "qualite")
    resp = api.client.get("/reports/?from=2026-12-01&to=2026-11-01")
    assert resp.status_code == 422 and "doit précéder" in resp.get_data(as_text=True)
    assert api.client.get("/reports/cases.csv?to=xx").status_code == 422


def test_dashboard_shows_figures_escaped(api, deployed):
    reference_set()
    Builder().case(at(11, 21), channel="web", kind="complaint", category="other", root_cause="<script>x</script>")
    db.session.commit()
    login(api.client, "responsable")
    html = api.client.get(f"/reports/?{QUERY}&process=reclamation").get_data(as_text=True)
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert "Double facturation" in html and "Facturation" in html and "Qualifier la réclamation" in html
    assert "80,0 %" in html  # answered within the deadline


def test_openapi_documents_indicators(api, deployed):
    spec = api.get(None, "/api/openapi.json").get_json()
    params = {p["name"] for p in spec["paths"]["/api/indicators"]["get"]["parameters"]}
    assert params == {"from", "to", "process", "channel", "origin", "kind", "category", "department"}
    figures = api.get("qualite", "/api/indicators").get_json()
    assert set(spec["components"]["schemas"]["Indicators"]["required"]) <= set(figures)
