"""Task list, task page, claim / release / reassign and bulk actions: thin routes over app/services."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import clock
from app.access import STAFF_GROUPS, groups_required, is_read_only, staff_required
from app.forms.builder import apply_errors, build_form, submitted
from app.forms.fields import consequences, validate_submission
from app.services.cases import escalation
from app.services.cases import lifecycle as cases
from app.services.cases import view as case_view
from app.services.core.errors import Conflict, Invalid
from app.services.tasks import actions as tasks
from app.services.tasks import task_list
from app.tasks import bp
from app.tasks.forms import PER_PAGE, list_args

DUE_SOON_DAYS = 2
TAB_LABELS = {"mine": "Mes tâches", "group": "Mon équipe", "all": "Toutes"}


def _back(default: str) -> str:
    """The same-site page to go back to (the list with its filters), never an outside URL."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return default


@bp.get("/")
@staff_required
def index():
    scope, filters, page, problems = list_args(request.args, "mine")
    for problem in problems:
        flash(problem, "error")
    if scope not in task_list.available_scopes(current_user):
        scope = "mine"
        flash("L'onglet « Toutes » est réservé aux responsables.", "error")
    result = task_list.task_page(current_user, scope, filters, page, PER_PAGE)
    return render_template(
        "tasks/index.html", result=result, rows=result.rows, scope=scope, filters=filters, page=page,
        count_label=task_list.count_label, tabs=TAB_LABELS, options=tasks.list_options(),
        now=clock.now(), soon=clock.now().timestamp() + DUE_SOON_DAYS * 86400,
        members=tasks.lane_members(None) if current_user.in_any(*tasks.MANAGER_GROUPS) else [],
        read_only=is_read_only(current_user), list_url=_list_url(scope, filters))


def _list_url(scope, filters):
    """Build list links that keep the current tab, filters and sort, changing only what is given."""
    current = {"onglet": scope, "processus": filters.process, "etape": filters.step, "canal": filters.channel,
               "retard": "1" if filters.overdue else None, "risque": "1" if filters.at_risk else None,
               "sous": filters.due_within, "q": filters.q,
               "tri": filters.sort if filters.sort != "due" else None}

    def build(**changes):
        params = {**current, **changes}
        return url_for("tasks.index", **{k: v for k, v in params.items() if v not in (None, "")})
    return build


@bp.post("/<task_id>/prendre")
@groups_required(*STAFF_GROUPS, write=True)
def claim(task_id):
    row = tasks.claim(current_user, task_id)
    flash(f"Tâche « {row.name} » ({row.case_reference}) prise.", "info")
    return redirect(_back(url_for("tasks.task", task_id=task_id)))


@bp.post("/<task_id>/liberer")
@groups_required(*STAFF_GROUPS, write=True)
def release(task_id):
    row = tasks.unclaim(current_user, task_id)
    flash(f"Tâche « {row.name} » ({row.case_reference}) libérée.", "info")
    return redirect(_back(url_for("tasks.index")))


@bp.post("/<task_id>/reattribuer")
@groups_required(*tasks.MANAGER_GROUPS, write=True)
def reassign(task_id):
    row = tasks.reassign(current_user, task_id, request.form.get("assignee", ""))
    flash(f"Tâche « {row.name} » ({row.case_reference}) attribuée à {row.assignee}.", "info")
    return redirect(_back(url_for("tasks.task", task_id=task_id)))


@bp.post("/lot")
@groups_required(*STAFF_GROUPS, write=True)
def bulk():
    ids = request.form.getlist("task_ids")
    if not ids:
        flash("Sélectionnez au moins une tâche.", "error")
        return redirect(_back(url_for("tasks.index")))
    outcomes = tasks.bulk(current_user, request.form.get("action", ""), ids, request.form.get("assignee") or None)
    done = sum(1 for _, ok, _ in outcomes if ok)
    flash(f"{done} tâche(s) traitée(s) sur {len(outcomes)}.", "info" if done == len(outcomes) else "error")
    for _, ok, message in outcomes:
        flash(message, "info" if ok else "error")
    return redirect(_back(url_for("tasks.index")))


def _render_task(row, form, *, status=200, conflict=None, confirm=None):
    case = cases.get_case(row.case_reference)
    return render_template(
        "tasks/task.html", row=row, case=case, form=form, timeline=case_view.timeline(case),
        data=case_view.labelled_data(case), conflict=conflict, confirm=confirm, thread=case_view.thread(case),
        escalation=escalation.offer(current_user, case),
        can_act=_can_act(row), now=clock.now(),
        members=tasks.lane_members(row.lane) if current_user.in_any(*tasks.MANAGER_GROUPS) else []), status


def _can_act(row) -> bool:
    return (row.state == "ready" and not is_read_only(current_user) and current_user.in_any(row.lane or "")
            and (row.assignee in (None, current_user.username) or current_user.is_admin))


def _unconfirmed_effects(specs, values) -> list[tuple[str, str]]:
    """What the chosen options will do (close, reject, send a letter) when the person has not confirmed it yet."""
    clean, errors = validate_submission(specs, values, html=True)
    if errors:
        return []  # the service refuses the form with its messages first
    effects = consequences(specs, clean)
    confirmed = request.form.get("confirmed") or ""
    return effects if effects and confirmed != ";".join(key for key, _ in effects) else []


@bp.get("/<task_id>")
@staff_required
def task(task_id):
    row = tasks.get_task(current_user, task_id)
    form = build_form(tasks.form_fields(row), data=row.draft or None)
    return _render_task(row, form)


@bp.post("/<task_id>")
@groups_required(*STAFF_GROUPS, write=True)
def submit(task_id):
    row = tasks.get_task(current_user, task_id)
    form = build_form(tasks.form_fields(row))
    values = submitted(form)
    draft = request.form.get("action") == "draft"
    try:
        if draft:
            tasks.save_draft(current_user, task_id, values, html=True)
            flash("Brouillon enregistré : vous pouvez reprendre plus tard.", "info")
            return redirect(url_for("tasks.task", task_id=task_id))
        effects = _unconfirmed_effects(tasks.form_fields(row), values)
        if effects:
            return _render_task(row, form, confirm=effects)
        case = cases.complete_task(current_user, task_id, values, html=True)
    except Invalid as exc:
        apply_errors(form, exc.errors)
        flash("Le formulaire contient des erreurs : corrigez les champs signalés.", "error")
        return _render_task(row, form, status=422)
    except Conflict as exc:
        by = exc.extra.get("completed_by")
        message = (f"Cette tâche a été terminée entre-temps par {by}." if by else exc.message) + \
            " Vos saisies n'ont pas été enregistrées ; elles restent affichées ci-dessous pour que vous puissiez " \
            "les reporter."
        tasks.refresh(row)
        return _render_task(row, form, status=409, conflict=message)
    flash(f"Étape « {row.name} » terminée pour le dossier {case.reference}.", "info")
    return redirect(url_for("tasks.index"))
