"""Login and logout pages."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from app.auth import bp
from app.auth.forms import LoginForm
from app.services.core.errors import ServiceError
from app.services.people.users import login_limit
from app.services.staff import signin
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
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for(bp_home()))
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/me")
def whoami():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("auth/me.html")
