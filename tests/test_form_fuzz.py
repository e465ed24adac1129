"""Form fuzzing with hypothesis: the form validation and a task page POST never crash and never half-apply.

Bounded and deterministic (derandomized, a fixed number of examples).
"""

import pytest
from flask import g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.forms.fields import validate_submission
from app.models import AuditEvent, Case
from app.services.core import definitions
from tests.support.flows import complaint_data, ready, start

FUZZ = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
VALUE = st.one_of(TEXT, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
                  st.lists(TEXT, max_size=3), st.sampled_from(["", " ", "0", "-1", "1e309", "true", "NaN",
                                                               "2026-02-30", "9" * 40, "<script>", "%_'\""]))


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def forms(deployed):
    pspec = definitions.spec_for(definitions.active("reclamation"))
    return {"start": pspec.start_form, **{k: v["form"] for k, v in pspec.user_tasks.items()}}


def test_validation_never_crashes_and_returns_only_declared_clean_values(forms):
    names = st.sampled_from(sorted(forms))

    @FUZZ
    @given(form=names, data=st.dictionaries(st.one_of(TEXT, st.sampled_from(
        sorted({f.name for fs in forms.values() for f in fs}))), VALUE, max_size=12), html=st.booleans())
    def check(form, data, html):
        fields = forms[form]
        if html:  # an HTML form sends strings only
            data = {k: "" if v is None else str(v) for k, v in data.items()}
        clean, errors = validate_submission(fields, data, html=html)
        declared = {f.name for f in fields}
        assert set(clean) <= declared
        assert all(isinstance(message, str) and message for message in errors.values())
        if not errors:
            for f in fields:
                if f.required:
                    assert clean.get(f.name) not in (None, "")

    check()


def test_task_page_post_with_fuzzed_form_never_fails_or_half_applies(app, client, deployed, api):
    reference = start(api, **complaint_data())["reference"]
    task_id = ready(api, reference, "ut_qualify")["id"]
    assert client.post("/login", data={"username": "gestionnaire", "password": "demo"}).status_code == 302
    fields = ["admissible", "category", "severity", "department", "qualification_comment", "action", "extra"]

    @FUZZ
    @given(data=st.dictionaries(st.sampled_from(fields), st.one_of(TEXT, st.sampled_from(
        ["y", "true", "on", "billing", "high", "draft", "critical"])), max_size=7))
    def check(data):
        g.pop("_login_user", None)
        db.session.expire_all()
        case = db.session.scalars(select(Case).where(Case.reference == reference)).one()
        before = case.lock_version, db.session.scalar(select(func.count()).select_from(AuditEvent))
        resp = client.post(f"/taches/{task_id}", data=data)
        assert resp.status_code in (200, 302, 303, 409, 422), resp.status_code
        db.session.expire_all()
        case = db.session.scalars(select(Case).where(Case.reference == reference)).one()
        if resp.status_code in (409, 422):  # refused: nothing written
            assert (case.lock_version,
                    db.session.scalar(select(func.count()).select_from(AuditEvent))) == before

    check()
