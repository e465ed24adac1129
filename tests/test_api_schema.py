"""Schemathesis against /api/openapi.json on the in-process WSGI app: no 500, every response matches the spec.

A bounded, deterministic run: a few examples per operation (derandomized), as the admin (who may call
everything) so that requests get past authentication into the validation and service code.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.flows import complaint_data, ready, start

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8



@pytest.fixture
def backend():
    return "sqlite"


def test_api_matches_its_openapi_document(app, api, deployed):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    token = api.token("admin")
    reference = start(api, **complaint_data())["reference"]
    # Real values for path parameters: each example is also sent against existing objects, not only 404s.
    known = {"reference": reference, "task_id": ready(api, reference, "ut_qualify")["id"], "key": "reclamation",
             "ref": "1"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures = []
    for operation in operations:
        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
            if case.path_parameters and set(case.path_parameters) <= set(known):
                case.path_parameters = {name: known[name] for name in case.path_parameters}
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return schema, [result.ok() for result in schema.get_all_operations()]


def test_api_refuses_what_its_openapi_document_forbids(app, api, deployed):
    """Negative data (a per_page of 0, an offset of -1, an empty date, a wrong type): a 4xx, never a 2xx or 5xx."""
    from schemathesis.generation import GenerationMode

    _schema, operations = _operations(app)
    token = api.token("admin")
    start(api, **complaint_data())
    failures = []
    for operation in operations:
        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE,
                                          headers={"Authorization": f"Bearer {token}"}))
        def check(case):
            case.call_and_validate(checks=[not_a_server_error, negative_data_rejection, content_type_conformance])

        try:
            check()
        except Unsatisfiable:
            continue  # nothing in this operation can be made invalid (e.g. only a free-text path part)
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_api_sequences_of_calls_follow_the_document(app, api, deployed):
    """The stateful phase: calls chained through the links schemathesis infers (a case created, then read,
    its tasks claimed and completed...), each response checked against the document."""
    schema, _operations_ = _operations(app)
    token = api.token("admin")
    base = schema.as_state_machine()

    calls = []

    class Machine(base):
        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def before_call(self, case):
            # Random process keys never exist: start real cases so the chains reach their tasks and history.
            if case.operation.label == "POST /api/cases" and len(calls) % 2 == 0:
                case.body = {"process": "reclamation", "data": complaint_data()}

        def after_call(self, response, case):
            calls.append((case.operation.label, response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    Machine.run(settings=settings(max_examples=EXAMPLES * 2, stateful_step_count=6, derandomize=True,
                                  database=None, deadline=None, suppress_health_check=list(HealthCheck)))
    print(len(calls), sorted(set(calls)))
    assert len({label for label, _status in calls}) >= 5  # chains through several operations, not one call


@pytest.mark.parametrize(("method", "url", "allowed"), [
    ("TRACE", "/api/tasks", {"GET", "HEAD", "OPTIONS"}), ("FOO", "/api/cases", {"POST", "OPTIONS"}),
    ("DELETE", "/api/login", {"POST", "OPTIONS"}), ("TRACE", "/login", {"GET", "POST", "HEAD", "OPTIONS"}),
    ("PROPFIND", "/dossiers/", {"GET", "HEAD", "OPTIONS"}),
    ("TRACE", "/reclamation", {"GET", "POST", "HEAD", "OPTIONS"}),
])
def test_unknown_methods_answer_405_with_allow(client, users, method, url, allowed):
    resp = client.open(url, method=method)
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == allowed
    text = resp.get_data(as_text=True)
    assert "Méthode non autorisée" in (resp.get_json() or {}).get("error", "") or "Méthode non autorisée" in text


@pytest.mark.parametrize("query", ["per_page=0", "page=0", "offset=-1", "limit=0", "limit=501", "to=", "scope=x",
                                   "version=abc", "unknown=1", "page=1&page=2"])
def test_api_refuses_query_values_its_document_forbids(api, deployed, query):
    url = "/api/tasks" if query.split("=")[0] in ("offset", "limit", "scope") else "/api/audit/events"
    resp = api.get("admin", f"{url}?{query}")
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"] and resp.get_json()["error"].startswith("Paramètres invalides")
