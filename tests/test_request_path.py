"""The request path around a step: what a completion or a task list view reads besides the step itself.

The task list's filter choices are computed once per set of active versions (a new deployment shows at once),
a completion's JSON answer is built before the commit (nothing is read back after it), and the access log
names the user without reading the user row again.
"""

import json
import logging
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.extensions import db
from app.ops.logs import JsonFormatter
from app.services.core.definitions import deploy_files
from app.services.tasks import actions
from tests.support.pages import login, ready_task, start_case
from tests.support.setup import TEST_BPMN


@contextmanager
def statements():
    """The SQL statements run on the app's engine meanwhile, with "COMMIT" marking each commit."""
    seen: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    def on_commit(conn):
        seen.append("COMMIT")

    engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


@pytest.fixture
def access_log(caplog):
    logger = logging.getLogger("reclamations")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="reclamations")
    formatter = JsonFormatter()
    yield lambda path: [e for e in (json.loads(formatter.format(r)) for r in caplog.records)
                        if e["logger"] == "reclamations.access" and e["path"] == path]
    logger.removeHandler(caplog.handler)


def test_filter_choices_follow_a_new_deployment_without_reloading_documents(deployed):
    first = actions.list_options()
    assert ("reclamation", "Réclamation") in first["processes"]
    assert "ut_qualify" in dict(first["steps"])
    assert first["channel_names"]["letter"] == dict(first["channels"])["letter"]
    with statements() as seen:
        again = actions.list_options()
    assert again == first
    assert len(seen) == 1 and "process_definition.xml" not in seen[0], seen  # ids and hashes only
    db.session.rollback()

    deploy_files([TEST_BPMN / "loop.bpmn"], "test")
    after = actions.list_options()
    assert "boucle" in [k for k, _ in after["processes"]] and "ask" in dict(after["steps"])
    assert "boucle" not in [k for k, _ in first["processes"]]  # the cached choices were not changed in place


def test_a_completion_answers_from_the_transaction_and_reads_nothing_after_its_commit(api, deployed, access_log):
    case = start_case()
    task = ready_task(case, "ut_qualify")
    reference, task_id = case.reference, task.id
    db.session.rollback()
    api.token("gestionnaire")  # signed in before the count
    with statements() as seen:
        resp = api.post("gestionnaire", f"/api/tasks/{task_id}/complete",
                        json={"data": {"admissible": "yes", "category": "billing", "severity": "high"}})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["reference"] == reference and body["category"] == "billing" and body["status"] != "open"
    assert [t["bpmn_id"] for t in body["tasks"]] == ["ut_analyse"]  # the next step, created by this one
    assert seen.count("COMMIT") == 1
    after = seen[seen.index("COMMIT") + 1:]
    assert after == [], after  # neither the case, its tasks nor the user read back
    [entry] = access_log(f"/api/tasks/{task_id}/complete")
    assert entry["user"] == "gestionnaire" and entry["status"] == 200
    # what was answered is what was committed
    again = api.get("gestionnaire", f"/api/cases/{reference}").get_json()
    assert again == body


def test_a_started_case_answers_from_the_transaction(api, deployed):
    api.token("accueil")
    with statements() as seen:
        resp = api.post("accueil", "/api/cases", json={"process": "reclamation", "data": {
            "channel": "letter", "origin": "external_customer", "kind": "complaint", "customer_name": "Jean Moreau",
            "customer_email": "jean@example.fr", "description": "Colis jamais livré.", "written": "yes"}})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert [t["bpmn_id"] for t in body["tasks"]] == ["ut_qualify"]
    assert seen.count("COMMIT") == 1 and seen[seen.index("COMMIT") + 1:] == []
    assert api.get("accueil", f"/api/cases/{body['reference']}").get_json() == body


def test_a_refused_completion_changes_nothing_and_answers_409(api, deployed):
    case = start_case()
    task_id = ready_task(case, "ut_qualify").id
    data = {"data": {"admissible": "yes", "category": "billing", "severity": "high"}}
    assert api.post("gestionnaire", f"/api/tasks/{task_id}/complete", json=data).status_code == 200
    resp = api.post("gestionnaire", f"/api/tasks/{task_id}/complete", json=data)
    assert resp.status_code == 409 and "déjà été traitée" in resp.get_json()["error"]


def test_a_page_change_logs_its_user_without_reading_it_again(app, deployed, access_log):
    case = start_case()
    task_id = ready_task(case).id
    db.session.rollback()
    client = login(app, "gestionnaire")
    client.get("/taches/")
    with statements() as seen:
        resp = client.post(f"/taches/{task_id}/prendre")
    assert resp.status_code in (302, 303)
    after = seen[seen.index("COMMIT") + 1:]
    assert not [s for s in after if "user_account" in s], after
    [entry] = access_log(f"/taches/{task_id}/prendre")
    assert entry["user"] == "gestionnaire"
