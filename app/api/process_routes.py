"""API routes for process definitions: upload a draft, deploy, list versions, compare, migrate."""

import re

from flask import Response, g, jsonify, request

from app.api import bp, token_required
from app.services.core.errors import NotFound, ServiceError
from app.services.processes import admin as process_admin
from app.services.processes import attachments as process_attachments

XML_TYPES = ("application/xml", "text/xml", "application/bpmn+xml")
# Bounded digits: a 30-digit number would overflow the database integer (500 instead of 404).
_REF = re.compile(r"(?:([0-9]{1,9})|draft-([0-9]{1,9}))", re.ASCII)


def definition_json(d, running: int | None = None, active: bool | None = None) -> dict:
    iso = lambda v: v.isoformat() if v is not None else None  # noqa: E731
    out = {"id": d.id, "key": d.key, "name": d.name, "version": d.version, "status": d.status, "sha256": d.sha256,
           "filename": d.filename, "created_by": d.created_by, "created_at": iso(d.created_at),
           "deployed_by": d.deployed_by, "deployed_at": iso(d.deployed_at), "based_on_id": d.based_on_id,
           "ref": str(d.version) if d.version is not None else f"draft-{d.id}",
           "decisions": sorted(d.decisions or {})}
    if running is not None:
        out["running_cases"] = running
    if active is not None:
        out["active"] = active
    return out


def resolve(key: str, ref: str):
    """A definition row from a URL reference: a version number, or draft-<id> for a draft."""
    match = _REF.fullmatch(ref or "")
    if not match:
        raise NotFound("Version inconnue (un numéro de version ou draft-<id>).")
    if match.group(1):
        return process_admin.get_version(key, int(match.group(1)))
    definition = process_admin.get(int(match.group(2)))
    if definition.key != key or definition.status != "draft":
        raise NotFound("Brouillon inconnu pour ce processus.")
    return definition


@bp.post("/process-definitions")
@token_required
def upload_definition():
    if request.mimetype not in XML_TYPES:
        raise ServiceError("Corps XML BPMN attendu (Content-Type application/xml ou text/xml).")
    xml = request.get_data(cache=False, as_text=True)
    draft, problems = process_admin.save_draft(g.user, xml, key=request.args.get("key") or None,
                                               filename=request.args.get("filename") or None)
    # warnings and notices (JUEL translated, Camunda rules applied) are returned to the owner
    return jsonify({**definition_json(draft), "problems": [p.to_json() for p in problems]}), 201


@bp.post("/process-definitions/<key>/<ref>/decisions")
@token_required
def upload_decision(key, ref):
    """Attach a DMN document to a draft (a deployed version gets a new draft with it)."""
    if request.mimetype not in XML_TYPES:
        raise ServiceError("Corps XML DMN attendu (Content-Type application/xml ou text/xml).")
    draft, problems = process_attachments.save_decision(g.user, resolve(key, ref).id, request.get_data(as_text=True),
                                                  request.args.get("filename") or None)
    return jsonify({**definition_json(draft), "decisions": sorted(draft.decisions or {}),
                    "problems": [p.to_json() for p in problems]}), 201


@bp.post("/process-definitions/<key>/<ref>/tests")
@token_required
def upload_tests(key, ref):
    """Store the owner tests of a draft (JSON {"tests": [...]}) and run them at once."""
    from app.api import json_body

    draft, failures = process_attachments.save_tests(g.user, resolve(key, ref).id, json_body())
    return jsonify({**definition_json(draft), "tests": len(draft.tests or []),
                    "failures": [f.to_json() for f in failures]}), 201


@bp.get("/process-definitions/<key>/<ref>/tests")
@token_required
def definition_tests(key, ref):
    return jsonify(tests=resolve(key, ref).tests or [])


@bp.get("/process-definitions/<key>/<ref>/decisions/<filename>")
@token_required
def decision_xml(key, ref, filename):
    definition = resolve(key, ref)
    text = (definition.decisions or {}).get(filename)
    if text is None:
        raise NotFound("Table de décision inconnue pour cette version.")
    return Response(text, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/process-definitions/<key>/<ref>/deploy")
@token_required
def deploy_definition(key, ref):
    definition = process_admin.deploy(g.user, resolve(key, ref).id)
    return jsonify(definition_json(definition)), 201


@bp.get("/process-definitions/<key>/versions")
@token_required
def definition_versions(key):
    return jsonify(key=key, versions=[definition_json(v.definition, v.running, v.active)
                                      for v in process_admin.versions(key)])


@bp.get("/process-definitions/<key>/<ref>/bpmn")
@token_required
def definition_xml(key, ref):
    definition = resolve(key, ref)
    return Response(definition.xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{definition.key}-{ref}.bpmn"'})


@bp.get("/process-definitions/<key>/<ref>/compare")
@token_required
def compare_definition(key, ref):
    from app.services.core import definitions
    from app.services.processes import compare as process_compare

    other = resolve(key, ref)
    base = resolve(key, request.args["base"]) if request.args.get("base") else definitions.active(key)
    result = process_compare.compare(base, other)
    return jsonify(base=definition_json(base), other=definition_json(other), impacted_cases=result.impacted,
                   changes=[c.to_json() for c in result.changes])


@bp.get("/process-definitions/<key>/migrations")
@token_required
def migration_candidates(key):
    from app.services.processes import migration

    target = resolve(key, request.args["to"]).id if request.args.get("to") else None
    target, found = migration.candidates(key, target)
    return jsonify(target=definition_json(target), cases=[c.to_json() for c in found])


@bp.post("/process-definitions/<key>/migrations")
@token_required
def migrate_cases(key):
    from app.api import json_body
    from app.services.processes import migration

    body = json_body()
    target = resolve(key, str(body["to"])).id if body.get("to") is not None else None
    outcomes = migration.migrate_cases(g.user, key, body.get("cases"), target)
    return jsonify(results=[o.to_json() for o in outcomes])


@bp.get("/cases/<reference>/workflow-archives")
@token_required
def workflow_archives(reference):
    """The serialized states a case left behind when it was migrated (for inspection)."""
    import json

    from app.services.cases import lifecycle as cases
    from app.services.processes import migration

    iso = lambda v: v.isoformat() if v is not None else None  # noqa: E731
    case = cases.get_case(reference)
    return jsonify(reference=case.reference, archives=[{
        "id": a.id, "definition_id": a.definition_id, "to_definition_id": a.to_definition_id, "reason": a.reason,
        "archived_at": iso(a.archived_at), "archived_by": a.archived_by, "serializer_version": a.serializer_version,
        "state": json.loads(a.state)} for a in migration.archives(case)])
