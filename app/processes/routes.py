"""Process pages: thin routes, each checks the role, calls one service function and renders or redirects."""

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required, staff_required
from app.processes import bp
from app.services.core import definitions
from app.services.core.errors import NotFound, ServiceError
from app.services.people.users import KNOWN_GROUPS
from app.services.processes import admin as process_admin
from app.services.processes import attachments as process_attachments
from app.services.processes import compare as process_compare
from app.services.processes import migration
from app.services.processes.admin import OWNER_GROUP, ValidationFailed
from app.services.processes.validation import blocking, validate
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
    problems = validate(definition.xml, definition.key, definition.decisions)[1] if definition.status == "draft" \
        else []
    import json

    tests_json = json.dumps({"tests": definition.tests or []}, ensure_ascii=False, indent=2)
    return render_template("processes/modeler.html", definition=definition, problems=problems,
                           keys=process_admin.known_keys(), tests_json=tests_json,
                           risks=deploy_warnings(definition.xml, definition.key))


@bp.post("/versions/<int:definition_id>/valider")
@owner_required
def check(definition_id):
    """« Valider »: the checks of the modeler's current XML, with the draft's tables, without saving anything."""
    definition = process_admin.get(definition_id)
    key, problems = validate(request.get_data(cache=False, as_text=True), definition.key, definition.decisions)
    return jsonify(key=key, problems=[p.to_json() for p in problems], blocking=len(blocking(problems)))


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
    if blocking(problems):
        flash(f"Brouillon enregistré avec {len(blocking(problems))} problème(s) à corriger avant déploiement.",
              "error")
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


@bp.get("/versions/<int:definition_id>/decisions/<filename>")
@staff_required
def decision_download(definition_id, filename):
    return Response(process_attachments.decision_document(definition_id, filename), mimetype="application/xml",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


@bp.get("/versions/<int:definition_id>/decisions/<filename>/editeur")
@owner_required
def decision_editor(definition_id, filename):
    definition = process_admin.get(definition_id)
    process_attachments.decision_document(definition_id, filename)  # 404 for an unknown table
    return render_template("processes/decision.html", definition=definition, filename=filename)


@bp.post("/versions/<int:definition_id>/decisions")
@owner_required
def decision_save(definition_id):
    """Save the DMN editor's table into the draft (JSON answer for the page's script)."""
    filename = request.args.get("filename") or None
    draft, problems = process_attachments.save_decision(current_user, definition_id, request.get_data(as_text=True),
                                                  filename)
    name = filename if filename in (draft.decisions or {}) else sorted(draft.decisions)[-1]
    return jsonify(id=draft.id, problems=[p.to_json() for p in problems],
                   editor_url=url_for("processes.decision_editor", definition_id=draft.id, filename=name),
                   modeler_url=url_for("processes.modeler", definition_id=draft.id))


@bp.post("/versions/<int:definition_id>/tests")
@owner_required
def tests_save(definition_id):
    """Owner tests edited in the modeler page (JSON in a text area): stored on the draft and run at once."""
    import json

    try:
        document = json.loads(request.form.get("tests") or "[]")
    except ValueError:
        flash("Tests du processus : JSON invalide.", "error")
        return redirect(url_for("processes.modeler", definition_id=definition_id))
    draft, failures = process_attachments.save_tests(current_user, definition_id, document)
    if failures:
        for f in failures:
            flash(f"Test « {f.test} » en échec : {f.message}", "error")
    else:
        flash(f"{len(draft.tests or [])} test(s) enregistré(s) : tous passent.", "info")
    return redirect(url_for("processes.modeler", definition_id=draft.id))


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
    if base_id:
        base = process_admin.get(base_id)
    else:
        try:
            base = definitions.active(other.key)
        except NotFound:  # never deployed: nothing to compare with, say so
            return render_template("processes/error.html", definition=other, problems=None, message=(
                f"« {other.name} » n'a encore aucune version déployée : il n'y a rien à comparer. Le premier "
                "déploiement de ce brouillon créera la version 1.")), 200
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
