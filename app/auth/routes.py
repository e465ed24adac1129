"""Login and logout pages; one's own absence (with a delegate or back to the group)."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from app.access import STAFF_GROUPS, groups_required, staff_required
from app.auth import bp
from app.auth.forms import AbsenceForm, LoginForm
from app.services.core.errors import ServiceError
from app.services.people import sessions
from app.services.people.users import login_limit
from app.services.staff import accounts, signin
from app.web import limiter


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: no open redirect through ?next=."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/", methods=["GET"])
def index():
    if current_user.is_authenticated:
        return redirect(url_for(bp_home()))
    return redirect(url_for("auth.login"))


def bp_home() -> str:
    """The staff home page: the task list once it exists."""
    from flask import current_app

    return "tasks.index" if "tasks.index" in current_app.view_functions else "auth.whoami"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], error_message="Trop de tentatives de connexion : patientez.")
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = signin.sign_in(form.username.data, form.password.data)
        except ServiceError as exc:  # bad credentials, disabled account (401), directory down (503)
            flash(exc.message, "error")
            status = exc.status
        else:
            session.clear()  # a fresh session: nothing chosen before sign-in is carried over
            login_user(user)
            sessions.begin(session, user)
            return redirect(_safe_next(request.args.get("next")) or url_for(bp_home()))
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sessions.revoke_all(current_user)  # copies of this session's cookie stop working too
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/me")
def whoami():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("auth/me.html")


def _absence_form() -> AbsenceForm:
    form = AbsenceForm()
    form.delegate.choices = [SelectChoice("", "Mon groupe (les tâches y retournent)")] + [
        SelectChoice(u.username, f"{u.full_name or u.username} ({', '.join(u.groups)})")
        for u in accounts.delegates(current_user)]
    return form


@bp.get("/absence")
@staff_required
def absence():
    return render_template("auth/absence.html", form=_absence_form())


@bp.post("/absence")
@groups_required(*STAFF_GROUPS, write=True)
def absence_start():
    """Declare oneself absent: held tasks go to a delegate (where their lane allows) or back to the group."""
    form = _absence_form()
    if not form.validate_on_submit():
        flash("Choisissez un remplaçant dans la liste, ou « Mon groupe ».", "error")
        return render_template("auth/absence.html", form=form), 422
    try:
        moved = accounts.mark_absent(current_user, form.delegate.data or None)
    except ServiceError as exc:
        flash("; ".join(getattr(exc, "errors", {}).values()) or exc.message, "error")
        return render_template("auth/absence.html", form=form), exc.status
    given = sum(1 for _, holder in moved if holder)
    flash(f"Absence enregistrée : {given} tâche(s) confiée(s) à votre remplaçant, "
          f"{len(moved) - given} rendue(s) à leur groupe.", "info")
    return redirect(url_for("auth.absence"), 303)


@bp.post("/absence/fin")
@groups_required(*STAFF_GROUPS, write=True)
def absence_end():
    try:
        accounts.mark_back(current_user)
    except ServiceError as exc:
        flash("; ".join(getattr(exc, "errors", {}).values()) or exc.message, "error")
    else:
        flash("Bon retour : votre absence est terminée.", "info")
    return redirect(url_for("auth.absence"), 303)
