"""Public routes: thin, each validates the form, calls one service function and renders or redirects.

The forms check their own CSRF token (the blueprint is exempt from the global check) so that an expired
page re-renders with everything the complainant typed instead of a bare 400.
"""

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for

from app.forms.builder import apply_errors, build_form, submitted
from app.public import bp
from app.public.forms import AddInformationForm, ContestForm, HoneypotForm, IntakeFileForm, LostLinkForm
from app.services.core import idempotency
from app.services.core.errors import Conflict, Invalid, NotFound
from app.services.public import intake as public
from app.web import limiter

EXPIRED = ("La page a expiré ou le formulaire n'a pas pu être vérifié : "
           "contrôlez vos informations puis envoyez-les à nouveau.")
REFUSED = "Votre envoi n'a pas pu être traité. Merci de réessayer."
ALREADY = "Cet envoi avait déjà été enregistré : il n'a pas été pris en compte une seconde fois."
# HTML hints for the contact fields of the start form (field names from docs/modelling.md).
CONTACT_HINTS = {
    "customer_name": {"autocomplete": "name"},
    "customer_email": {"autocomplete": "email", "type": "email"},
    "customer_phone": {"autocomplete": "tel", "type": "tel"},
    "customer_address": {"autocomplete": "street-address", "rows": 3},
}


def _submit_limit() -> str:
    return current_app.config.get("PUBLIC_SUBMIT_RATELIMIT", "10 per hour")


# Submissions per client address, shared by every public form; input errors (422) do not count.
submit_limit = limiter.shared_limit(_submit_limit, scope="public-submit", methods=["POST"],
                                    override_defaults=False, deduct_when=lambda response: response.status_code != 422)


def _or_404(fn, *args):
    try:
        return fn(*args)
    except NotFound:
        abort(404)


def _checked(form) -> int | None:
    """None when the form may go to the service, else the status of a re-render (its error already set)."""
    if not form.validate():  # the CSRF token: the BPMN fields have no WTForms validators
        form.form_errors.append(EXPIRED)
        return 400
    if form.is_spam():
        current_app.logger.info("public form honeypot filled from %s", request.remote_addr)
        form.form_errors.append(REFUSED)
        return 400
    return None


def receipt(result) -> dict:
    """What the confirmation page may show. With an e-mail address, nothing about the case: the same page
    whether a new case was opened or the submission was put on someone's open case (which would disclose that
    the case exists); the reference and tracking link go to the address in the acknowledgment. Without one
    (postal answer, never merged), the new case's reference and link are shown: the page is their only copy."""
    if result.merged or result.case.customer_email:
        return {"email": True}
    return {"email": False, "reference": result.case.reference, "token": result.case.tracking_token}


@bp.route("/reclamation", methods=["GET", "POST"])
@submit_limit
def intake():
    info = _or_404(public.intake_form)
    kinds = {option for f in info.fields if f.name == "kind" for option, _label in f.options}
    # A complaint unless the link says otherwise (?type=suggestion): the staff form has no default kind.
    initial = {"kind": request.args["type"] if request.args.get("type") in kinds else "complaint"}
    form = build_form(info.fields, base=IntakeFileForm, data=initial, render_kw=CONTACT_HINTS,
                      label_property="public_label")
    status = 200
    if request.method == "POST":
        status = _checked(form)
        if status is None:
            values = submitted(form)
            try:
                upload = form.attachment.data
                done, _replayed = idempotency.once(
                    "public.intake", request.form.get(idempotency.FIELD),
                    lambda: {"receipt": receipt(public.file_intake(values, upload.filename if upload else None,
                                                                    upload.stream if upload else None))})
            except Invalid as exc:
                apply_errors(form, exc.errors)
                status = 422
            else:  # a retried post (same key) gets the first one's confirmation, no second case
                session["public_receipt"] = done["receipt"]
                return redirect(url_for("public.confirmation"), 303)
    contact = [f for f in form.specs if f.name.startswith("customer_") or f.name == "origin"]
    about = [f for f in form.specs if f not in contact]
    return render_template("public/intake.html", form=form, info=info, contact=contact, about=about), status


@bp.get("/reclamation/confirmation")
def confirmation():
    receipt = session.get("public_receipt")
    if not receipt:
        return redirect(url_for("public.intake"))
    link = url_for("public.track", token=receipt["token"], _external=True) if receipt.get("token") else None
    return render_template("public/confirmation.html", receipt=receipt, link=link)


@bp.get("/suivi/<token>")
def track(token):
    view = _or_404(public.tracking, token)
    return render_template("public/tracking.html", view=view, form=AddInformationForm(), contest_form=ContestForm())


def _submit_once(form, scope: str, action) -> tuple[int | None, bool]:
    """Run a tracking-page post once per its idempotency key: (None, replayed) when done (a retried post gets the
    first one's answer, not a misleading 409), else (status, False) with the error set on the form."""
    try:
        _done, replayed = idempotency.once(scope, request.form.get(idempotency.FIELD), action)
    except Invalid as exc:
        apply_errors(form, exc.errors)
        return 422, False
    except Conflict as exc:
        form.form_errors.append(exc.message)
        return 409, False
    return None, replayed


@bp.post("/suivi/<token>/contester")
@submit_limit
def contest(token):
    view = _or_404(public.tracking, token)
    form = ContestForm()
    status = _checked(form)
    if status is None:
        upload = form.contest_file.data

        def send():
            public.contest_answer(token, form.contest_text.data, upload.filename if upload else None,
                                  upload.stream if upload else None)
            return {}

        status, replayed = _submit_once(form, f"public.contest:{token}", send)
        if status is None:
            flash(ALREADY if replayed else
                  "Votre contestation a été transmise : le service réexamine votre dossier et vous répondra.", "info")
            return redirect(url_for("public.track", token=token), 303)
    return render_template("public/tracking.html", view=view, form=AddInformationForm(), contest_form=form), status


@bp.post("/suivi/<token>/ajout")
@submit_limit
def add_information(token):
    view = _or_404(public.tracking, token)
    form = AddInformationForm()
    status = _checked(form)
    if status is None:
        upload = form.attachment.data

        def add():
            public.add_information(token, form.text.data, upload.filename if upload else None,
                                   upload.stream if upload else None)
            return {}

        status, replayed = _submit_once(form, f"public.add:{token}", add)
        if status is None:
            flash(ALREADY if replayed else
                  "Merci : votre envoi a été ajouté à votre dossier et transmis au service qui le traite.", "info")
            return redirect(url_for("public.track", token=token), 303)
    return render_template("public/tracking.html", view=view, form=form, contest_form=ContestForm()), status


@bp.route("/suivi/<token>/enquete", methods=["GET", "POST"])
@submit_limit
def survey(token):
    case, fields, closed = _or_404(public.survey, token)
    if request.method == "POST" and idempotency.replay(f"public.survey:{token}",
                                                       request.form.get(idempotency.FIELD)) is not None:
        flash(ALREADY, "info")  # the answer of this very form was recorded: the retry gets the first result
        return redirect(url_for("public.track", token=token), 303)
    if closed:
        return render_template("public/survey.html", reference=case.reference, token=token, closed=closed,
                               form=None), 409 if request.method == "POST" else 200
    form = build_form(fields, base=HoneypotForm, label_property="public_label")
    status = 200
    if request.method == "POST":
        status = _checked(form)
        if status is None:
            values = submitted(form)
            try:
                _done, replayed = idempotency.once(
                    f"public.survey:{token}", request.form.get(idempotency.FIELD),
                    lambda: (public.answer_survey(token, values), {})[1])
            except Invalid as exc:
                apply_errors(form, exc.errors)
                status = 422
            except Conflict as exc:
                return render_template("public/survey.html", reference=case.reference, token=token,
                                       closed=exc.message, form=None), 409
            else:
                flash(ALREADY if replayed else "Merci pour votre réponse : elle nous aide à améliorer notre service.",
                      "info")
                return redirect(url_for("public.track", token=token), 303)
    return render_template("public/survey.html", reference=case.reference, token=token, closed=None,
                           form=form), status


@bp.route("/suivi", methods=["GET", "POST"])
@submit_limit
def lost_link():
    form = LostLinkForm()
    status = 200
    if request.method == "POST":
        status = _checked(form)
        if status is None:
            try:
                public.resend_link(form.reference.data, form.email.data)
            except Invalid as exc:
                apply_errors(form, exc.errors)
                status = 422
            else:
                return render_template("public/lost_link.html", form=form, sent=True)
    return render_template("public/lost_link.html", form=form, sent=False), status
