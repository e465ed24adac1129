"""Schemathesis against /api/openapi.json on the in-process WSGI app: no 500, every response matches the spec.

A bounded, deterministic run: a few examples per operation (derandomized), as the admin (who may call
everything) so that requests get past authentication into the validation and service code.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.flows import complaint_data, ready, start

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
