"""Every route's integer and date parameters, with extreme values: a clear 4xx, never a 5xx.

The routes come from app.url_map (their <int:...> parts) and the query parameters from the views' source:
the names a view reads from request.args, and, for views that hand request.args to a parser (indicators,
task list, actions), every name any view or parser reads.
"""

import inspect
import re
from pathlib import Path

import pytest
from flask import g
from werkzeug.routing import IntegerConverter

from tests.support.flows import complaint_data, start
from tests.support.pages import login

APP = Path(__file__).resolve().parent.parent / "app"
EXTREMES = ("0", "-1", str(2**31), str(2**63), str(2**64), "9" * 30, "0001-01-01", "9999-12-31", "",
            "-9223372036854775809")
URL_INTS = (0, 2**31, 2**63, 2**64, int("9" * 30))
# request.args.get("x"), request.args["x"], args.get("x"), args.getlist("x"), form fields read from args.
READS = re.compile(r"""(?:args|request\.args)(?:\.get|\.getlist)?\(?\[?\s*["']([a-z_]+)["']""")
WHOLE = re.compile(r"request\.args\)|= request\.args\b")


def names_read(source: str) -> set[str]:
    return set(READS.findall(source))


def every_name() -> set[str]:
    """Every query parameter name read anywhere in the application (views, parsers, search forms)."""
    found = set()
    for path in APP.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        found |= names_read(source)
        if "Form(request.args)" in source or path.name == "forms.py":  # GET forms read their fields' names
            found |= set(re.findall(r"^\s+([a-z_]+) = \w+Field\(", source, re.M))
    return found


@pytest.fixture
def app_config():
    return {"PROPAGATE_EXCEPTIONS": False}  # an error becomes the 500 page a user would get


def test_the_walk_sees_the_parameters_of_the_issue(app):
    names = every_name()
    assert {"page", "version", "per_page", "offset", "limit", "from", "to", "received_from", "at"} <= names


def test_extreme_values_never_give_a_server_error(app, deployed, api):
    reference = start(api, **complaint_data())["reference"]
    staff = login(app, "admin")
    token = api.token("admin")
    everything = every_name()
    failures, count = [], 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith("logout"):
            continue
        view = app.view_functions[rule.endpoint]
        source = inspect.getsource(inspect.unwrap(view))
        params = everything if WHOLE.search(source) else names_read(source)
        ints = [n for n in rule.arguments if isinstance(rule._converters[n], IntegerConverter)]
        base = {n: (reference if n == "reference" else "reclamation") for n in rule.arguments}
        urls = []
        for name in ints:
            for value in URL_INTS:
                urls.append(rule.build({**base, **{i: 1 for i in ints}, name: value}, append_unknown=False)[1])
        if "GET" in rule.methods:
            url = rule.build({**base, **{i: 1 for i in ints}}, append_unknown=False)[1]
            urls += [f"{url}?{name}={value}" for name in sorted(params) for value in EXTREMES]
            urls += [url + "?" + "&".join(f"{name}={value}" for name in sorted(params)) for value in EXTREMES]
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        for url in urls:
            g.pop("_login_user", None)
            headers = {"Authorization": f"Bearer {token}"} if url.startswith("/api/") else {}
            resp = staff.open(url, method=method, headers=headers)
            resp.close()
            count += 1
            if resp.status_code >= 500 and not (rule.endpoint == "ops.ready" and resp.status_code == 503):
                failures.append(f"{method} {url} ({rule.endpoint}): {resp.status_code}")
    assert count > 500
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:60])


# --- the inputs named in the issue -------------------------------------------------------------------------

@pytest.mark.parametrize("url", [f"/dossiers/?page={2**63}", f"/dossiers/?page={'9' * 30}",
                                 f"/audit/?page={2**63}", f"/audit/?version={2**63}", "/audit/?version=-1",
                                 "/dossiers/?received_to=9999-12-31", "/audit/?from=0001-01-01"])
def test_pages_refuse_huge_numbers_in_french(app, deployed, url):
    g.pop("_login_user", None)
    resp = login(app, "admin").get(url)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Numéro de page attendu" in html or "Numéro de version attendu" in html or "Date hors des limites" in html


@pytest.mark.parametrize("query", [f"page={2**63}", "page=0", f"version={2**63}", "per_page=0",
                                   "per_page=100000", "from=0001-01-01", "page="])
def test_api_audit_events_refuses_out_of_range(api, deployed, query):
    resp = api.get("auditeur", f"/api/audit/events?{query}")
    assert resp.status_code == 422 and resp.get_json()["error"]


def test_api_case_with_a_date_out_of_the_calendar(api, deployed):
    for day in ("0001-01-01", "9999-12-31"):
        resp = api.post("accueil", "/api/cases", json={"process": "reclamation",
                                                       "data": complaint_data(received_at=day)})
        assert resp.status_code == 422
        message = resp.get_json()["errors"]["received_at"]
        assert message == "Date hors des limites admises (du 01/01/1900 au 31/12/2999)."


META_XML = (Path(__file__).resolve().parent.parent / "processes" / "reclamation.bpmn").read_text(
    encoding="utf-8").replace('formField id="product"', 'formField id="meta"')


def test_deploy_refuses_a_reserved_field_id(ctx, users):
    from app.engine import DefinitionError
    from app.services.core.definitions import decisions_next_to, deploy_xml
    from app.services.processes.validation import validate

    with pytest.raises(DefinitionError) as refused:
        deploy_xml(META_XML, "test")
    assert any("« meta » : identifiant réservé" in message for _element, message in refused.value.problems)
    _key, problems = validate(META_XML, decisions=decisions_next_to(META_XML, Path(__file__).parents[1] / "processes"))
    assert any("« meta » : identifiant réservé" in p.message for p in problems)


def test_a_stored_version_with_a_reserved_field_still_renders(app, users, monkeypatch):
    """A version deployed before reserved ids were refused: the page says what is wrong, never a 500."""
    from app.services.core import definitions

    monkeypatch.setattr(definitions, "form_problems", lambda pspec: [])
    definitions.deploy_xml(META_XML, "test")
    monkeypatch.undo()
    client = login(app, "accueil")
    resp = client.get("/dossiers/nouveau/reclamation")
    assert resp.status_code == 200
    assert "champ au nom réservé (meta)" in resp.get_data(as_text=True)
    g.pop("_login_user", None)
    resp = client.post("/dossiers/nouveau/reclamation", data={"customer_name": "X"})
    assert resp.status_code in (200, 302, 422)
