"""Process pages: thin routes, each checks the role, calls one service function and renders or redirects."""

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required, staff_required
from app.processes import bp
from app.services.core import definitions
from app.services.core.errors import ServiceError
from app.services.people.users import KNOWN_GROUPS
from app.services.processes import admin as process_admin
from app.services.processes import compare as process_compare
from app.services.processes import migration
from app.services.processes.admin import OWNER_GROUP, ValidationFailed
from app.services.processes.validation import validate
from app.services.processes.validation import warnings as deploy_warnings

owner_required = groups_required(OWNER_GROUP, write=True)
MAX_UPLOAD = 2 * 1024 * 1024


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    if request.accept_mimetypes.best == "application/json" or request.is_json or request.mimetype.endswith("xml"):
        return jsonify(error=exc.message, **exc.extra), exc.status
    problems = getattr(exc, "problems", None)
    return render_template("processes/error.html", message=exc.message, problems=problems), exc.status


@bp.get("/")
@staff_required
def index():
    return render_template("processes/index.html", processes=process_admin.overview(),
                           can_edit=process_admin.can_edit(current_user), groups=KNOWN_GROUPS)


@bp.post("/nouveau")
@owner_required
def create():
    draft = process_admin.create_from_template(current_user, request.form.get("key", "").strip(),
                                               request.form.get("name", ""), request.form.get("lane", "gestionnaire"))
    flash(f"Processus « {draft.key} » créé comme brouillon.", "info")
    return redirect(url_for("processes.modeler", definition_id=draft.id))


@bp.get("/<key>/")
@staff_required
def history(key):
    return render_template("processes/history.html", key=key, versions=process_admin.versions(key),
                           can_edit=process_admin.can_edit(current_user))


@bp.get("/versions/<int:definition_id>/diagramme")
@staff_required
def viewer(definition_id):
    definition = process_admin.get(definition_id)
    return render_template("processes/viewer.html", definition=definition)


@bp.get("/versions/<int:definition_id>/bpmn")
@staff_required
def download(definition_id):
    d = process_admin.get(definition_id)
    name = f"{d.key}-v{d.version}.bpmn" if d.version is not None else f"{d.key}-brouillon-{d.id}.bpmn"
    disposition = "inline" if request.args.get("inline") else "attachment"
    return Response(d.xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'{disposition}; filename="{name}"'})


@bp.get("/versions/<int:definition_id>/modeleur")
@owner_required
def modeler(definition_id):
    definition = process_admin.get(definition_id)
    problems = validate(definition.xml, definition.key)[1] if definition.status == "draft" else []
    return render_template("processes/modeler.html", definition=definition, problems=problems,
                           risks=deploy_warnings(definition.xml, definition.key))


@bp.post("/<key>/brouillon")
@owner_required
def save(key):
    """Save the modeler's XML as a draft (JSON answer for the page's script)."""
    draft_id = request.args.get("draft", type=int)
    xml = request.get_data(cache=False, as_text=True)
    draft, problems = process_admin.save_draft(current_user, xml, key=key, draft_id=draft_id, strict=False)
    return jsonify(id=draft.id, key=draft.key, problems=[p.to_json() for p in problems],
                   warnings=[p.to_json() for p in deploy_warnings(draft.xml, draft.key)],
                   modeler_url=url_for("processes.modeler", definition_id=draft.id),
                   save_url=url_for("processes.save", key=draft.key, draft=draft.id),
                   deploy_url=url_for("processes.deploy", definition_id=draft.id),
                   compare_url=url_for("processes.compare", definition_id=draft.id))


@bp.post("/televerser")
@owner_required
def upload():
    file = request.files.get("file")
    if file is None or not file.filename:
        flash("Choisissez un fichier .bpmn.", "error")
        return redirect(url_for("processes.index"))
    raw = file.read(MAX_UPLOAD + 1)
    draft, problems = process_admin.save_draft(current_user, raw.decode("utf-8", errors="replace"),
                                               filename=file.filename, strict=False)
    if problems:
        flash(f"Brouillon enregistré avec {len(problems)} problème(s) à corriger avant déploiement.", "error")
    else:
        flash("Brouillon enregistré : il peut être déployé.", "info")
    return redirect(url_for("processes.modeler", definition_id=draft.id))


@bp.post("/versions/<int:definition_id>/deployer")
@owner_required
def deploy(definition_id):
    try:
        definition = process_admin.deploy(current_user, definition_id)
    except ValidationFailed as exc:
        return render_template("processes/error.html", message=exc.message, problems=exc.problems,
                               definition=process_admin.get(definition_id)), 422
    flash(f"Version {definition.version} de « {definition.name} » déployée : les nouveaux dossiers l'utilisent.",
          "info")
    for risk in deploy_warnings(definition.xml, definition.key):
        flash(f"Attention — {risk.label or risk.element} : {risk.message}", "error")
    older = sum(n for did, n in process_admin.running_counts(definition.key).items() if did != definition.id)
    if older:
        flash(f"{older} dossier(s) en cours restent sur leur version : voir « Dossiers sur d'anciennes versions » "
              "pour les migrer.", "info")
    return redirect(url_for("processes.history", key=definition.key))


@bp.post("/versions/<int:definition_id>/supprimer")
@owner_required
def delete(definition_id):
    key = process_admin.get(definition_id).key
    process_admin.delete_draft(current_user, definition_id)
    flash("Brouillon supprimé.", "info")
    return redirect(url_for("processes.history", key=key))


@bp.get("/versions/<int:definition_id>/comparer")
@staff_required
def compare(definition_id):
    other = process_admin.get(definition_id)
    base_id = request.args.get("base", type=int)
    base = process_admin.get(base_id) if base_id else definitions.active(other.key)
    result = process_compare.compare(base, other)
    return render_template("processes/compare.html", result=result, markers=result.markers(),
                           waiting={c.element: c.waiting for c in result.changes if c.waiting})


@bp.get("/<key>/migration")
@staff_required
def migrate_form(key):
    target, found = migration.candidates(key, request.args.get("to", type=int))
    return render_template("processes/migrate.html", key=key, target=target, candidates=found,
                           can_edit=process_admin.can_edit(current_user), outcomes=None)


@bp.post("/<key>/migration")
@owner_required
def migrate(key):
    target_id = request.form.get("to", type=int)
    outcomes = migration.migrate_cases(current_user, key, request.form.getlist("cases"), target_id)
    target, found = migration.candidates(key, target_id)
    return render_template("processes/migrate.html", key=key, target=target, candidates=found,
                           can_edit=True, outcomes=outcomes)
