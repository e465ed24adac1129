"""DPO pages: search a person, preview and erase, download everything held, legal holds, the access log."""

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required
from app.privacy import bp
from app.services.core.errors import Invalid, ServiceError
from app.services.privacy import access_log, erasure, retention, subjects
from app.vocabulary import PRIVACY_GROUPS


def _search_terms() -> dict:
    source = request.form if request.method == "POST" else request.args
    return {k: (source.get(k) or "").strip()[:200] for k in ("email", "name", "phone")}


def _term(terms: dict) -> str:
    return terms["email"] or terms["name"] or terms["phone"]


@bp.get("/")
@groups_required(*PRIVACY_GROUPS)
def index():
    terms, cases, plans, errors = _search_terms(), [], [], {}
    if any(terms.values()):
        try:
            cases = subjects.find_cases(current_user, **terms)
            plans = [erasure.plan(c) for c in cases]
        except Invalid as exc:
            errors = exc.errors
    return render_template("privacy/index.html", terms=terms, plans=plans, errors=errors,
                           requests=subjects.requests(20), alerts=access_log.alerts(),
                           holds=retention.held_cases())


@bp.post("/archive")
@groups_required(*PRIVACY_GROUPS, write=True)
def archive():
    terms = _search_terms()
    cases = subjects.find_cases(current_user, **terms)
    data = subjects.access_archive(current_user, cases, _term(terms))
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="donnees-personnelles.zip"'})


@bp.post("/effacer")
@groups_required(*PRIVACY_GROUPS, write=True)
def erase():
    terms, reason = _search_terms(), (request.form.get("reason") or "").strip()
    if not reason:
        flash("Indiquez le motif de l'effacement (par exemple : demande de la personne du …).", "error")
        return redirect(url_for("privacy.index", **terms))
    cases = subjects.find_cases(current_user, **terms)
    chosen = set(request.form.getlist("reference"))
    ids = [c.id for c in cases if c.reference in chosen]
    request_row = subjects.record_request(current_user, "erasure", _term(terms), sorted(chosen), {}, reason=reason)
    done, refused = erasure.erase(ids, current_user.username, reason, request_row.id)
    if done:
        flash(f"Données effacées : {', '.join(done)}.", "success")
    for reference, why in refused.items():
        flash(f"{reference} : non effacé — {why}", "error")
    return redirect(url_for("privacy.index", **terms))


@bp.post("/conservation/<reference>")
@groups_required(*PRIVACY_GROUPS, write=True)
def hold(reference):
    try:
        if request.form.get("lift"):
            retention.lift_hold(current_user, reference, request.form.get("reason"))
            flash(f"{reference} : conservation légale levée.", "success")
        else:
            retention.set_hold(current_user, reference, request.form.get("reason"))
            flash(f"{reference} : conservé pour motif légal.", "success")
    except ServiceError as exc:
        flash(exc.message if not isinstance(exc, Invalid) else " ".join(exc.errors.values()), "error")
    return redirect(request.referrer or url_for("privacy.index"))


@bp.get("/journal")
@groups_required(*PRIVACY_GROUPS)
def journal():
    username, reference = (request.args.get("user") or "").strip(), (request.args.get("case") or "").strip()
    return render_template("privacy/journal.html", entries=access_log.entries(current_user, username, reference),
                           username=username, reference=reference, alerts=access_log.alerts())
