"""The template editor for process owners: list, edit with a preview on a real case, history, roll back."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required
from app.letters import bp
from app.services.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.messaging import messages, template_editing, templates

EDITORS = templates.EDITORS


@bp.get("/modeles/")
@groups_required(*EDITORS)
def templates_index():
    return render_template("letters/templates.html", rows=templates.catalogue(), kinds=templates.KINDS,
                           values={}, errors={})


@bp.post("/modeles/")
@groups_required(*EDITORS, write=True)
def template_create():
    values = {name: request.form.get(name, "") for name in ("key", "label", "kind", "subject", "body")}
    try:
        row = template_editing.create(current_user, **values)
    except Invalid as exc:
        flash(exc.message, "error")
        return render_template("letters/templates.html", rows=templates.catalogue(), kinds=templates.KINDS,
                               values=values, errors=exc.errors), 422
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("letters.templates_index"))
    flash(f"Modèle « {row.label} » créé.", "info")
    return redirect(url_for("letters.template_edit", key=row.key))


def _editor_page(row, *, subject, body, note="", base_version=None, errors=None, rendered=None, reference="",
                 status=200):
    return render_template(
        "letters/template_edit.html", row=row, subject=subject, body=body, note=note,
        base_version=base_version or row.version, errors=errors or {}, rendered=rendered, reference=reference,
        fields=templates.FIELDS, references=messages.recent_references(), kinds=templates.KINDS), status


@bp.route("/modeles/<key>", methods=["GET", "POST"])
@groups_required(*EDITORS, write=True)
def template_edit(key):
    try:
        row = templates.active(key)
    except NotFound:
        abort(404)
    if request.method == "GET":
        return _editor_page(row, subject=row.subject, body=row.body, reference=request.args.get("dossier", ""))
    form = request.form
    subject, body, note = form.get("subject", ""), form.get("body", ""), form.get("note", "")
    reference = form.get("reference", "").strip()
    try:
        base_version = int(form.get("base_version", row.version))
    except ValueError:
        base_version = -1
    keep = {"subject": subject, "body": body, "note": note, "base_version": base_version, "reference": reference}
    if form.get("action") == "preview_pdf" and row.kind == "letter":
        try:
            content, filename = messages.preview_letter(subject, body, reference)
        except Invalid as exc:
            return _editor_page(row, errors=exc.errors, status=422, **keep)
        except NotFound as exc:
            return _editor_page(row, errors={"reference": exc.message}, status=422, **keep)
        return Response(content, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})
    if form.get("action") == "preview":
        try:
            rendered = messages.preview(subject, body, reference, postal=row.kind == "letter")
        except Invalid as exc:
            return _editor_page(row, errors=exc.errors, status=422, **keep)
        except NotFound as exc:
            return _editor_page(row, errors={"reference": exc.message}, status=422, **keep)
        return _editor_page(row, rendered=rendered, **keep)
    try:
        saved = template_editing.save(current_user, key, subject, body, base_version=base_version, note=note)
    except Invalid as exc:
        flash(exc.message, "error")
        return _editor_page(row, errors=exc.errors, status=422, **keep)
    except Conflict as exc:
        flash(exc.message, "error")
        return _editor_page(row, status=409, **keep)
    except Forbidden:
        abort(403)
    flash(f"Modèle « {saved.label} » enregistré : version {saved.version}, utilisée par les prochains messages.",
          "info")
    return redirect(url_for("letters.template_edit", key=key))


@bp.get("/modeles/<key>/versions")
@groups_required(*EDITORS)
def template_versions(key):
    try:
        rows = templates.versions(key)
    except NotFound:
        abort(404)
    return render_template("letters/template_versions.html", rows=rows, active=rows[0], kinds=templates.KINDS)


@bp.post("/modeles/<key>/versions/<int:version_id>/retablir")
@groups_required(*EDITORS, write=True)
def template_roll_back(key, version_id):
    try:
        row = template_editing.roll_back(current_user, key, version_id)
    except NotFound:
        abort(404)
    except Invalid as exc:
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("letters.template_versions", key=key))
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("letters.template_versions", key=key))
    flash(f"Version {row.version} créée : retour au texte de la {row.note.lower().removeprefix('retour à la ')}.",
          "info")
    return redirect(url_for("letters.template_versions", key=key))
