"""Letters to print: thin views over app.services.messaging.outbox."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required
from app.letters import bp
from app.services.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.messaging import outbox

READERS = (*outbox.LETTER_GROUPS, "auditeur")


@bp.get("/")
@groups_required(*READERS)
def index():
    return render_template("letters/index.html", letters=outbox.letters_to_print())


@bp.get("/<int:outbox_id>")
@groups_required(*READERS)
def show(outbox_id: int):
    try:
        letter = outbox.get_letter(current_user, outbox_id)
    except (NotFound, Forbidden) as exc:
        abort(404 if isinstance(exc, NotFound) else 403)
    return render_template("letters/print.html", letter=letter)


@bp.get("/<int:outbox_id>.pdf")
@groups_required(*READERS)
def pdf(outbox_id: int):
    try:
        content, filename = outbox.letter_pdf(current_user, outbox_id)
    except (NotFound, Forbidden) as exc:
        abort(404 if isinstance(exc, NotFound) else 403)
    disposition = "attachment" if request.args.get("telecharger") else "inline"
    return Response(content, mimetype="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{filename}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store"})


@bp.post("/<int:outbox_id>/poste")
@groups_required(*outbox.LETTER_GROUPS, write=True)
def posted(outbox_id: int):
    try:
        outbox.mark_posted(current_user, outbox_id, request.form.get("tracking_number"))
        flash("Courrier enregistré comme posté.", "info")
    except NotFound:
        abort(404)
    except Invalid as exc:
        flash(" ".join(exc.errors.values()) or exc.message, "error")
    except Conflict as exc:
        flash(exc.message, "error")
    return redirect(url_for("letters.index"))
