"""CAPA pages: thin routes over app.services.quality.capa (qualite, responsable and admin write; others listed read)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import clock
from app.access import groups_required
from app.actions import bp
from app.services.core.errors import Forbidden, Invalid, NotFound
from app.services.indicators import labels
from app.services.quality import capa
from app.vocabulary import ACTION_KINDS, ACTION_STATUSES, CAPA_READERS

READERS = CAPA_READERS
WRITERS = capa.WRITE_GROUPS


def _page(template: str, status: int = 200, **context):
    return render_template(template, kinds=ACTION_KINDS, statuses=ACTION_STATUSES, kind_labels=capa.KIND_LABELS,
                           status_labels=capa.STATUS_LABELS, can_write=capa.can_write(current_user),
                           cat=labels.catalogue(), today=clock.now().date(), **context), status


@bp.errorhandler(NotFound)
def not_found(exc: NotFound):
    return exc.message, 404, {"Content-Type": "text/plain; charset=utf-8"}


@bp.errorhandler(Forbidden)
def forbidden(exc: Forbidden):
    return exc.message, 403, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/")
@groups_required(*READERS)
def index():
    args = request.args
    rows = capa.list_actions(current_user, status=args.get("status") or None, kind=args.get("kind") or None,
                             owner=(args.get("owner") or "").strip() or None, overdue=args.get("overdue") == "1",
                             q=args.get("q") or None)
    return _page("actions/index.html", rows=rows, args=args)


@bp.route("/new", methods=["GET", "POST"])
@groups_required(*WRITERS, write=True)
def create():
    if request.method == "GET":
        return _page("actions/form.html", form=request.args, errors={}, action=None)
    references = (request.form.get("references") or "").replace(",", " ").split()
    try:
        action = capa.create_action(current_user, request.form, references)
    except Invalid as exc:
        return _page("actions/form.html", 422, form=request.form, errors=exc.errors, action=None)
    flash("Action enregistrée.", "info")
    return redirect(url_for("actions.show", action_id=action.id))


@bp.get("/<int:action_id>")
@groups_required(*READERS)
def show(action_id):
    return _show(action_id, {})


def _show(action_id: int, errors: dict):
    action = capa.get_action(current_user, action_id)
    return _page("actions/show.html", 422 if errors else 200, action=action, cases=capa.linked_cases(action),
                 recurrence=capa.recurrence(action), errors=errors)


@bp.route("/<int:action_id>/edit", methods=["GET", "POST"])
@groups_required(*WRITERS, write=True)
def edit(action_id):
    action = capa.get_action(current_user, action_id)
    if request.method == "GET":
        form = {k: getattr(action, k) or "" for k in ("kind", "title", "description", "owner", "category",
                                                       "root_cause", "effectiveness")}
        form["due_on"] = action.due_on.isoformat() if action.due_on else ""
        return _page("actions/form.html", form=form, errors={}, action=action)
    try:
        capa.update_action(current_user, action_id, request.form)
    except Invalid as exc:
        return _page("actions/form.html", 422, form=request.form, errors=exc.errors, action=action)
    flash("Action modifiée.", "info")
    return redirect(url_for("actions.show", action_id=action_id))


@bp.post("/<int:action_id>/status")
@groups_required(*WRITERS, write=True)
def change_status(action_id):
    try:
        capa.change_status(current_user, action_id, request.form.get("status", ""),
                           request.form.get("effectiveness"))
    except Invalid as exc:
        return _show(action_id, exc.errors)
    flash("Statut mis à jour.", "info")
    return redirect(url_for("actions.show", action_id=action_id))


@bp.post("/<int:action_id>/cases")
@groups_required(*WRITERS, write=True)
def link(action_id):
    try:
        capa.link_case(current_user, action_id, request.form.get("reference", ""))
    except Invalid as exc:
        return _show(action_id, exc.errors)
    flash("Dossier lié.", "info")
    return redirect(url_for("actions.show", action_id=action_id))


@bp.post("/<int:action_id>/cases/<reference>/unlink")
@groups_required(*WRITERS, write=True)
def unlink(action_id, reference):
    capa.unlink_case(current_user, action_id, reference)
    flash("Lien retiré.", "info")
    return redirect(url_for("actions.show", action_id=action_id))
