"""API routes: thin, each validates, calls one service function and returns JSON."""

import json
from pathlib import Path

from flask import g, jsonify, request

from app.api import bp, json_body, token_required
from app.api.serializers import case_json, event_json, form_json, task_json
from app.services.cases import lifecycle as cases
from app.services.core import audit, definitions
from app.services.core.errors import Forbidden, Invalid, ServiceError
from app.services.core.transaction import run
from app.services.people import users
from app.services.people.users import login_limit
from app.services.staff import signin
from app.services.tasks import actions as tasks
from app.services.tasks import task_list
from app.vocabulary import REPORT_READERS
from app.web import limiter, remember_user

OPENAPI = Path(__file__).with_name("openapi.json")


@bp.get("/openapi.json")
def openapi():
    return jsonify(json.loads(OPENAPI.read_text(encoding="utf-8")))


@bp.post("/login")
@limiter.limit(login_limit, error_message="Trop de tentatives de connexion : patientez.")
def login():
    body = json_body()
    try:
        user = signin.sign_in(str(body.get("username", "")), str(body.get("password", "")))
    except ServiceError as exc:  # 401 refused, 503 directory unreachable
        return jsonify(error=exc.message), exc.status
    remember_user(user.username)  # the access log names who signed in without reading the row again
    return jsonify(token=users.issue_token(user), username=user.username, groups=user.groups)


@bp.get("/processes")
@token_required
def processes():
    return jsonify([{"key": d.key, "name": d.name, "version": d.version, "sha256": d.sha256,
                     "deployed_at": d.deployed_at.isoformat() if d.deployed_at else None}
                    for d in definitions.all_active()])


@bp.get("/processes/<key>")
@token_required
def process(key):
    definition = definitions.active(key)
    pspec = definitions.spec_for(definition)
    return jsonify(key=definition.key, name=definition.name, version=definition.version, sha256=definition.sha256,
                   start_lane=pspec.start_lane, lanes=pspec.lanes, start_form=form_json(pspec.start_form))


@bp.post("/cases")
@token_required
def create_case():
    body = json_body()
    process_key, data = body.get("process"), body.get("data", {})
    if not isinstance(process_key, str) or not isinstance(data, dict):
        raise Invalid({"process": "Processus attendu (chaîne) et data (objet)."})
    return jsonify(run(lambda: _case_answer(cases.start_case(g.user, process_key, data)))), 201


@bp.get("/cases/<reference>")
@token_required
def get_case(reference):
    case = cases.get_case(reference)
    return jsonify(case_json(case, tasks.ready_for_case(case.id)))


@bp.get("/cases/<reference>/history")
@token_required
def case_history(reference):
    case = cases.get_case(reference)
    return jsonify(reference=case.reference, events=[event_json(e) for e in audit.history(case.id)])


@bp.get("/tasks")
@token_required
def list_tasks():
    scope = request.args.get("scope", "group")
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 500)
        offset = min(max(int(request.args.get("offset", 0)), 0), 1_000_000_000)  # no integer overflow in SQL
    except ValueError:
        raise Invalid({"limit": "Nombre entier attendu."}) from None
    rows = task_list.list_tasks(g.user, scope, limit=limit, offset=offset)
    return jsonify(tasks=[task_json(r) for r in rows], total=task_list.count_tasks(g.user, scope))


@bp.get("/tasks/<task_id>")
@token_required
def get_task(task_id):
    row = tasks.get_task(g.user, task_id)
    case = cases.get_case(row.case_reference)
    pspec = definitions.spec_for(case.definition)
    form = pspec.user_tasks.get(row.bpmn_id, {}).get("form", [])
    return jsonify(task=task_json(row), form=form_json(form), draft=row.draft,
                   case={"reference": case.reference, "status": case.status, "data": case.data})


@bp.post("/tasks/<task_id>/claim")
@token_required
def claim(task_id):
    return jsonify(task_json(tasks.claim(g.user, task_id)))


@bp.post("/tasks/<task_id>/unclaim")
@token_required
def unclaim(task_id):
    return jsonify(task_json(tasks.unclaim(g.user, task_id)))


@bp.post("/tasks/<task_id>/complete")
@token_required
def complete(task_id):
    body = json_body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise Invalid({"data": "Objet attendu."})
    if "auditeur" in g.user.groups and not g.user.is_admin:
        raise Forbidden("Les auditeurs ne modifient rien.")
    return jsonify(run(lambda: _case_answer(cases.complete_task(g.user, task_id, data))))


def _case_answer(case) -> dict:
    """The case and its ready tasks as JSON, built inside the change's transaction (the service joins `run`'s):
    after the commit the case is expired, and reading it back would cost another query. The ready tasks are the
    rows the step just wrote (`ready_after_step`: no statement)."""
    return case_json(case, tasks.ready_after_step(case.id))


@bp.post("/cases/<reference>/retry")
@token_required
def retry(reference):
    case = cases.retry_incident(g.user, reference)
    return jsonify(case_json(case, tasks.ready_for_case(case.id)))


REPORT_GROUPS = REPORT_READERS


@bp.get("/indicators")
@token_required
def indicators():
    from app.services.indicators import figures as service

    if not g.user.in_any(*REPORT_GROUPS):
        raise Forbidden("Les indicateurs sont réservés à la qualité, aux responsables et à la direction.")
    return jsonify(service.compute(service.parse_filters(request.args)))
