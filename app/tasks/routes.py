"""Task list, task page, claim / release / reassign and bulk actions: thin routes over app/services."""

from urllib.parse import urlencode, urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from app import clock
from app.access import STAFF_GROUPS, groups_required, is_read_only, staff_required
from app.forms.builder import apply_errors, build_form, submitted
from app.forms.consequences import consequences
from app.forms.fields import validate_submission
from app.fragments import KeptMacro
from app.services.audit import checkpoints
from app.services.cases import escalation
from app.services.cases import lifecycle as cases
from app.services.cases import view as case_view
from app.services.core import idempotency
from app.services.core.errors import Conflict, Invalid
from app.services.tasks import actions as tasks
from app.services.tasks import task_list
from app.tasks import bp
from app.tasks.forms import PER_PAGE, list_args
from app.tasks.rows import Viewer, rows_html
from app.web import csrf

DUE_SOON_DAYS = 2
EXPIRED = ("Le formulaire a expiré (jeton de sécurité) : rien n'a été enregistré. Vos saisies sont conservées "
           "ci-dessous : envoyez-les à nouveau.")
TAB_LABELS = {"mine": "Mes tâches", "group": "Mon équipe", "all": "Toutes"}
# The filter form, printed once per (filter choices, list URL, tab, filters) and kept (app/fragments.py): the
# choices are tasks.list_options(versions_key), the same for the same active versions.
FILTERS = KeptMacro("tasks/_filters.html", "filters_form", 1000)
TAB_KEY = "task_tab"  # the tab the person works in (session)
NEXT_KEY = "next_task"  # the task offered after « Terminer l'étape »
QUERY_SAFE = "!$'()*,/:;?@"  # left as they are in a query string by werkzeug's URL building (url_for)


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
    user = current_user._get_current_object()  # read once: the page and its rows ask it often
    remembered = session.get(TAB_KEY)
    # A plain dict (each name's first value, as MultiDict.get gives it): a name missing from a MultiDict costs
    # a KeyError raised and caught inside get(), ~10 of them per view.
    args = request.args.to_dict()
    scope, filters, page, problems = list_args(args, remembered or "mine")
    for problem in problems:
        flash(problem, "error")
    if scope not in task_list.available_scopes(user):
        scope = "mine"
        flash("L'onglet « Toutes » est réservé aux responsables.", "error")
    result = task_list.task_page(user, scope, filters, page, PER_PAGE)
    if not args.get("onglet") and not remembered and scope == "mine" and not result.counts.get("mine") \
            and result.counts.get("group"):
        # first visit with nothing held yet: land where the work is, the group's tab
        scope = "group"
        result = task_list.task_page(user, scope, filters, page, PER_PAGE)
    if remembered != scope:  # come back to the same tab (after a task, from the menu); unchanged: no new cookie
        session[TAB_KEY] = scope
    next_task = session.pop(NEXT_KEY, None)
    options, now, read_only = tasks.list_options(result.versions_key), clock.now(), is_read_only(user)
    viewer = Viewer(user.username, user.is_admin, frozenset(user.groups), read_only)
    list_url = url_for("tasks.index")
    printed = rows_html(result.rows, result.forecasts, viewer, options["channel_names"], list_url, now,
                        now.timestamp() + DUE_SOON_DAYS * 86400)
    filters_key = None if result.versions_key is None else (result.versions_key, list_url, scope,
                                                             *vars(filters).values())
    filters_html = FILTERS(filters_key, list_url, url_for("tasks.index", onglet=scope), scope, filters, options)
    return render_template(
        "tasks/index.html", result=result, rows=result.rows, rows_html=printed, filters_html=filters_html,
        scope=scope, filters=filters, page=page, count_label=task_list.count_label, tabs=TAB_LABELS, options=options,
        members=tasks.lane_members(None) if user.in_any(*tasks.MANAGER_GROUPS) else [],
        read_only=read_only, list_url=_list_url(scope, filters), next_task=next_task,
        unread_notifications=lambda: result.unread_notifications)  # the top bar's, read with the rows


def _list_url(scope, filters):
    """Build list links that keep the current tab, filters and sort, changing only what is given."""
    current = {"onglet": scope, "processus": filters.process, "etape": filters.step, "canal": filters.channel,
               "retard": "1" if filters.overdue else None, "risque": "1" if filters.at_risk else None,
               "sous": filters.due_within, "q": filters.q,
               "tri": filters.sort if filters.sort != "due" else None}

    base = url_for("tasks.index")

    def build(**changes):  # what url_for("tasks.index", **params) gives, without a route build per link
        params = [(k, v) for k, v in {**current, **changes}.items() if v not in (None, "")]
        return f"{base}?{urlencode(params, safe=QUERY_SAFE)}" if params else base
    return build


@bp.post("/<task_id>/prendre")
@groups_required(*STAFF_GROUPS, write=True)
def claim(task_id):
    row = tasks.claim(current_user, task_id)
    flash(f"Tâche « {row.name} » ({row.case_reference}) prise.", "info")
    if request.form.get("open"):  # « Prendre et ouvrir »: one click from the list to the form
        return redirect(url_for("tasks.task", task_id=task_id))
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
        attachments=case_view.attachments(case), complainant_files=case_view.complainant_files(case),
        escalation=escalation.offer(current_user, case),
        can_act=_can_act(row), now=clock.now(), chain=checkpoints.chain_status(case.reference),
        members=tasks.lane_members(row.lane) if current_user.in_any(*tasks.MANAGER_GROUPS) else []), status


def _can_act(row) -> bool:
    return (row.state == "ready" and not is_read_only(current_user) and tasks.may_work(current_user, row)
            and (row.assignee in (None, current_user.username) or current_user.is_admin))


def _unconfirmed_effects(specs, values) -> list[tuple[str, str]]:
    """What the chosen options will do (close, reject, send a letter) when the person has not confirmed it yet."""
    clean, errors = validate_submission(specs, values, html=True)
    if errors:
        return []  # the service refuses the form with its messages first
    effects = consequences(specs, clean)
    # the second page's hidden field, or the inline tick box (app/static/forms.js), names these very effects
    confirmed = request.form.getlist("confirmed")
    return effects if effects and ";".join(key for key, _ in effects) not in confirmed else []


@bp.get("/<task_id>")
@staff_required
def task(task_id):
    row = tasks.get_task(current_user, task_id)
    fields = tasks.form_fields(row)
    form = build_form(fields, data={**(row.draft or {}), **tasks.readonly_values(row, fields)} or None)
    return _render_task(row, form)


@bp.post("/<task_id>")
@csrf.exempt  # checked below, to give back the page with what was typed when the token has expired
@groups_required(*STAFF_GROUPS, write=True)
def submit(task_id):
    row = tasks.get_task(current_user, task_id)
    form = build_form(tasks.form_fields(row))
    values = submitted(form)
    if not form.validate():  # the CSRF token only: the BPMN fields have no WTForms validators
        form.form_errors.append(EXPIRED)
        return _render_task(row, form, status=400)
    draft = request.form.get("action") == "draft"
    try:
        if draft:
            tasks.save_draft(current_user, task_id, values, html=True)
            flash("Brouillon enregistré : vous pouvez reprendre plus tard.", "info")
            return redirect(url_for("tasks.task", task_id=task_id))
        effects = _unconfirmed_effects(tasks.form_fields(row), values)
        if effects:
            return _render_task(row, form, confirm=effects)
        done, replayed = idempotency.once(
            f"tasks.complete:{current_user.username}", request.form.get(idempotency.FIELD),
            lambda: {"reference": cases.complete_task(current_user, task_id, values, html=True).reference})
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
    if replayed:
        flash(f"Cet envoi avait déjà été enregistré : l'étape « {row.name} » du dossier {done['reference']} "
              "n'a pas été terminée une seconde fois.", "info")
    else:
        flash(f"Étape « {row.name} » terminée pour le dossier {done['reference']}.", "info")
    following = _next_task(row.id)
    if following is not None:
        session[NEXT_KEY] = {"id": following.id, "name": following.name, "reference": following.case_reference}
    return redirect(url_for("tasks.index", onglet=session.get(TAB_KEY) or "mine"))


def _next_task(done_id: str):
    """The first task of the person's tab they can work on now (not the one just done), or None."""
    scope = session.get(TAB_KEY) or "mine"
    if scope not in task_list.available_scopes(current_user):
        scope = "mine"
    rows = task_list.task_page(current_user, scope, task_list.TaskFilters(), 1, 10).rows
    return next((r for r in rows if r.id != done_id and _can_act(r)), None)
