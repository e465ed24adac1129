"""The quarantine of incoming e-mail: held mails are listed, opened (text only, never their HTML), released
(processed normally) or discarded. POSTs are checked for their CSRF token by CSRFProtect."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required
from app.mailbox import bp
from app.services.core.errors import Invalid, ServiceError
from app.services.mailbox import quarantine

READERS = quarantine.READERS
HANDLERS = quarantine.HANDLERS
FILTERS = {"quarantaine": "quarantined", "tous": None}


@bp.get("/")
@groups_required(*READERS)
def index():
    shown = request.args.get("vue", "quarantaine")
    if shown not in FILTERS:
        abort(404)
    return render_template("mailbox/index.html", mails=quarantine.list_mails(current_user, FILTERS[shown]),
                           counts=quarantine.counts(current_user), shown=shown,
                           can_handle=current_user.in_any(*HANDLERS))


@bp.get("/<int:mail_id>")
@groups_required(*READERS)
def show(mail_id):
    try:
        view = quarantine.get_mail(current_user, mail_id)
    except ServiceError as exc:
        abort(exc.status)
    return render_template("mailbox/show.html", mail=view, can_handle=current_user.in_any(*HANDLERS))


@bp.post("/<int:mail_id>/relacher")
@groups_required(*HANDLERS, write=True)
def release(mail_id):
    try:
        outcome = quarantine.release(current_user, mail_id)
    except Invalid as exc:
        flash("Le courriel ne peut pas être traité : " + " ; ".join(exc.errors.values()), "error")
        return redirect(url_for("mailbox.show", mail_id=mail_id), 303)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("mailbox.show", mail_id=mail_id), 303)
    label = quarantine.STATUS_LABELS.get(outcome.status, outcome.status)
    flash(f"Courriel relâché : {label}" + (f" ({outcome.reference})." if outcome.reference else "."), "info")
    return redirect(url_for("mailbox.index"), 303)


@bp.post("/<int:mail_id>/ecarter")
@groups_required(*HANDLERS, write=True)
def discard(mail_id):
    try:
        quarantine.discard(current_user, mail_id)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("mailbox.show", mail_id=mail_id), 303)
    flash("Courriel écarté (il reste dans le dossier des courriels traités de la boîte).", "info")
    return redirect(url_for("mailbox.index"), 303)
