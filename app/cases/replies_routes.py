"""The reply composer page: thin views over app.services.cases.replies."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import STAFF_GROUPS, groups_required
from app.cases import bp
from app.services.cases import replies
from app.services.core.errors import Forbidden, Invalid, NotFound


def _form() -> dict:
    form = request.form
    return {"channel": form.get("channel", ""), "template_key": form.get("template_key", ""),
            "subject": form.get("subject", ""), "body": form.get("body", ""),
            "attachments": form.getlist("attachments"), "draft_id": form.get("draft_id", "")}


def _page(reference: str, values: dict, *, errors=None, preview=None, digest=None, status=200):
    try:
        view = replies.composer(current_user, reference)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    chosen = {int(i) for i in values.get("attachments") or [] if str(i).isdigit()}
    return render_template("cases/reply.html", **view, values=values, chosen=chosen, errors=errors or {},
                           preview=preview, digest=digest), status


@bp.get("/<reference>/reponse")
@groups_required(*STAFF_GROUPS, write=True)
def reply(reference):
    values = {"channel": request.args.get("canal", ""), "template_key": request.args.get("modele", ""),
              "subject": "", "body": "", "attachments": [], "draft_id": ""}
    draft_id = request.args.get("brouillon", "")
    try:
        if draft_id.isdigit():
            draft = replies.get_draft(current_user, reference, int(draft_id))
            values.update(channel=draft.channel, template_key=draft.template_key or "", subject=draft.subject,
                          body=draft.body, attachments=draft.attachment_ids or [], draft_id=str(draft.id))
        elif values["template_key"]:
            values["subject"], values["body"] = replies.from_template(
                current_user, reference, values["template_key"], values["channel"])
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    return _page(reference, values)


@bp.post("/<reference>/reponse")
@groups_required(*STAFF_GROUPS, write=True)
def reply_action(reference):
    values, action = _form(), request.form.get("action", "preview")
    try:
        if action == "load":
            if not values["template_key"]:
                return _page(reference, values, errors={"template_key": "Choisissez un modèle."}, status=422)
            values["subject"], values["body"] = replies.from_template(
                current_user, reference, values["template_key"], values["channel"])
            return _page(reference, values)
        if action == "draft":
            draft = replies.save_draft(current_user, reference, values)
            flash("Brouillon enregistré.", "info")
            return redirect(url_for("cases.reply", reference=reference, brouillon=draft.id))
        if action == "preview_pdf":
            content, filename = replies.letter_preview(current_user, reference, values)
            return Response(content, mimetype="application/pdf", headers={
                "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff"})
        if action == "send":
            message = replies.send(current_user, reference, values, request.form.get("previewed"))
            how = "par e-mail" if message.channel == "email" else "au courrier à imprimer"
            flash(f"Réponse envoyée {how} : « {message.subject} ».", "info")
            return redirect(url_for("cases.show", reference=reference) + "#correspondance")
        _case, reply = replies.preview(current_user, reference, values)
        return _page(reference, values, preview=reply, digest=reply.digest())
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except Invalid as exc:
        flash(exc.message, "error")
        return _page(reference, values, errors=exc.errors, status=422)
