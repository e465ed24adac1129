"""Case search, case page, attachments, comments, diagram data and staff registration: thin routes."""

from flask import flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms import SelectChoice

from app import clock
from app.access import STAFF_GROUPS, groups_required, is_read_only, staff_required
from app.cases import bp
from app.cases.forms import AttachmentForm, CommentForm, SearchForm
from app.forms.builder import apply_errors, build_form, submitted
from app.labels import STATUS_LABELS
from app.services.audit import checkpoints
from app.services.cases import escalation, intake, notes, replies
from app.services.cases import lifecycle as cases
from app.services.cases import search as case_search
from app.services.cases import view as case_view
from app.services.core import bounds, idempotency
from app.services.core.errors import Conflict, Invalid
from app.services.public import submissions
from app.services.tasks import actions as tasks
from app.web import csrf

PER_PAGE = 50
ALREADY = "Cet envoi avait déjà été enregistré : il n'a pas été pris en compte une seconde fois."


@bp.errorhandler(413)
def too_large(_exc):
    return render_template("errors/service.html", error=Invalid(
        {}, "Fichier trop volumineux pour être envoyé.")), 413


def _choices(everything: str, pairs) -> list[SelectChoice]:
    return [SelectChoice("", everything)] + [SelectChoice(value, label) for value, label in pairs]


@bp.get("/")
@staff_required
def search():
    form = SearchForm(request.args)
    known = case_search.known_values()
    form.status.choices = _choices("Tous", [(v, STATUS_LABELS.get(v, v)) for v in known["status"]])
    names = tasks.list_options()  # the French names from the deployed BPMN
    process_names, channels, origins = dict(names["processes"]), dict(names["channels"]), dict(names["origins"])
    form.process_key.choices = _choices("Tous", [(v, process_names.get(v, v)) for v in known["process"]])
    form.channel.choices = _choices("Tous", [(v, channels.get(v, v)) for v in known["channel"]])
    form.origin.choices = _choices("Toutes", [(v, origins.get(v, v)) for v in known["origin"]])
    rows, total, problems, page = [], 0, {}, 1
    try:
        page = bounds.page_number(request.args.get("page"))
        if form.validate():
            rows, total = case_search.search(form.filters(), limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    except Invalid as exc:
        problems = exc.errors
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("cases/search.html", form=form, rows=rows, total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)), problems=problems, args=args,
                           channels=channels, origins=origins), 422 if problems else 200


@bp.get("/<reference>")
@staff_required
def show(reference):
    case = cases.get_case(reference)
    return render_template(
        "cases/show.html", case=case, data=case_view.labelled_data(case), tasks=case_view.current_tasks(case),
        timeline=case_view.timeline(case), attachments=case_view.attachments(case),
        comments=case_view.comments(case), complainant_files=case_view.complainant_files(case),
        comment_form=CommentForm(), upload_form=AttachmentForm(), thread=case_view.thread(case),
        escalation=escalation.offer(current_user, case),
        read_only=is_read_only(current_user), max_mb=notes.max_bytes() // (1024 * 1024),
        allowed=sorted(notes.ALLOWED_TYPES), now=clock.now(), can_reply=replies.can_reply(current_user, case),
        drafts=replies.drafts(case, current_user), chain=checkpoints.chain_status(case.reference))


@bp.post("/<reference>/depots/<int:seq>/accepter")
@groups_required(*STAFF_GROUPS, write=True)
def accept_submission(reference, seq):
    try:
        submissions.accept(current_user, reference, seq)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash("Dépôt accepté : le réclamant le voit désormais sur sa page de suivi.", "info")
    return redirect(url_for("cases.show", reference=reference))


@bp.post("/<reference>/escalader")
@groups_required(*STAFF_GROUPS, write=True)
def escalate(reference):
    back = request.form.get("next") or ""
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("cases.show", reference=reference)
    try:
        escalation.escalate(current_user, reference, request.form.get("reason"))
    except Invalid as exc:
        flash(" ".join(exc.errors.values()), "error")
        return redirect(back)
    flash(f"Dossier {reference} escaladé : l'arbitrage est demandé et le motif notifié.", "info")
    return redirect(url_for("cases.show", reference=reference))


@bp.get("/<reference>/diagramme.json")
@staff_required
def diagram(reference):
    return jsonify(case_view.diagram(cases.get_case(reference)))


@bp.post("/<reference>/commentaires")
@groups_required(*STAFF_GROUPS, write=True)
def comment(reference):
    form = CommentForm()
    if not form.validate():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("cases.show", reference=reference) + "#commentaires")
    _done, replayed = idempotency.once(
        f"cases.comment:{current_user.username}", request.form.get(idempotency.FIELD),
        lambda: {"comment_id": notes.add_comment(current_user, reference, form.text.data).id})
    flash(ALREADY if replayed else "Commentaire ajouté.", "info")
    return redirect(url_for("cases.show", reference=reference) + "#commentaires")


@bp.post("/<reference>/pieces")
@groups_required(*STAFF_GROUPS, write=True)
def upload(reference):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choisissez un fichier.", "error")
        return redirect(url_for("cases.show", reference=reference) + "#pieces")
    content = upload.read(notes.max_bytes() + 1)
    try:
        done, replayed = idempotency.once(
            f"cases.upload:{current_user.username}", request.form.get(idempotency.FIELD),
            lambda: {"filename": notes.add_attachment(current_user, reference, upload.filename, content).filename})
    except Invalid as exc:
        flash(exc.errors.get("file", exc.message), "error")
        return redirect(url_for("cases.show", reference=reference) + "#pieces")
    flash(ALREADY if replayed else f"Pièce jointe « {done['filename']} » ajoutée.", "info")
    return redirect(url_for("cases.show", reference=reference) + "#pieces")


@bp.get("/<reference>/pieces/<int:attachment_id>")
@staff_required
def download(reference, attachment_id):
    attachment, path = notes.attachment_file(reference, attachment_id)
    return _file_response(path, attachment.content_type, attachment.filename)


PREVIEWABLE = ("application/pdf", "image/png", "image/jpeg")


def _file_response(path, content_type: str, filename: str):
    """A stored file: downloaded, or shown in the browser (?apercu=1) when it is a PDF or an image."""
    inline = request.args.get("apercu") == "1" and content_type in PREVIEWABLE
    response = send_file(path, mimetype=content_type, as_attachment=not inline, download_name=filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # no script ever runs from a file; the browser's own PDF viewer needs no sandbox, a download does
    response.headers["Content-Security-Policy"] = ("default-src 'none'; img-src 'self'; object-src 'self'"
                                                   if inline else "default-src 'none'; sandbox")
    return response


@bp.get("/<reference>/pieces-reclamant/<int:seq>")
@staff_required
def complainant_download(reference, seq):
    info, path = notes.complainant_file(reference, seq)
    return _file_response(path, info["content_type"], info["filename"])


@bp.get("/nouveau")
@groups_required(*STAFF_GROUPS, write=True)
def new():
    processes = intake.startable(current_user)
    if len(processes) == 1:  # reception has one process: straight to its form
        return redirect(url_for("cases.new_case", process_key=processes[0][0].key))
    return render_template("cases/new_choose.html", processes=processes)


@bp.route("/nouveau/<process_key>", methods=["GET", "POST"])
@csrf.exempt  # checked below, to give back the form with what was typed when the token has expired
@groups_required(*STAFF_GROUPS, write=True)
def new_case(process_key):
    form = build_form(intake.start_form(current_user, process_key))
    if request.method == "GET":
        return render_template("cases/new.html", form=form, process_key=process_key,
                               process_name=intake.process_name(process_key),
                               several_processes=len(intake.startable(current_user)) > 1, duplicates=[])
    values = submitted(form)
    if not form.validate():  # the CSRF token only
        form.form_errors.append("Le formulaire a expiré (jeton de sécurité) : rien n'a été enregistré. Vos "
                                "saisies sont conservées ci-dessous : envoyez-les à nouveau.")
        return render_template("cases/new.html", form=form, process_key=process_key,
                               process_name=intake.process_name(process_key), several_processes=False,
                               duplicates=[]), 400
    asked = {}

    def register():
        result = intake.register(current_user, process_key, values, html=True,
                                 confirm_new=request.form.get("confirm_new") == "1",
                                 link_to=request.form.get("link_to") or None)
        if result.duplicates:  # nothing registered yet: the same form comes back to confirm
            asked["duplicates"] = result.duplicates
            return None
        return {"reference": result.case.reference, "linked": bool(result.linked)}

    try:
        done, replayed = idempotency.once(f"cases.new:{current_user.username}",
                                          request.form.get(idempotency.FIELD), register)
    except Invalid as exc:
        apply_errors(form, exc.errors)
        flash("Le formulaire contient des erreurs : corrigez les champs signalés.", "error")
        return render_template("cases/new.html", form=form, process_key=process_key,
                               process_name=intake.process_name(process_key),
                               several_processes=len(intake.startable(current_user)) > 1, duplicates=[]), 422
    if done is None:
        return render_template("cases/new.html", form=form, process_key=process_key,
                               process_name=intake.process_name(process_key),
                               several_processes=len(intake.startable(current_user)) > 1,
                               duplicates=asked["duplicates"])
    if replayed:
        flash(f"{ALREADY} Dossier {done['reference']}.", "info")
    elif done["linked"]:
        flash(f"Contact rattaché au dossier {done['reference']} (aucun nouveau dossier ouvert).", "info")
    else:
        flash(f"Dossier {done['reference']} enregistré.", "info")
    return redirect(url_for("cases.show", reference=done["reference"]))
