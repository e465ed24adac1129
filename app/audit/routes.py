"""Audit routes: thin, read-only (GET), each calls one service function."""

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import groups_required
from app.audit import READERS, bp
from app.services.audit import exports, paper, register, replay, verification
from app.services.audit import trail as audit_trail
from app.services.core import bounds
from app.services.core.errors import Invalid, ServiceError

FILTERS = ("actor", "type", "from", "to", "process", "version", "reference")


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    return render_template("audit/error.html", error=exc), exc.status


@bp.get("/")
@groups_required(*READERS)
def index():
    args = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    error, page = None, 1
    try:
        page = bounds.page_number(request.args.get("page"))
        events, total = audit_trail.search_events(
            actor=args["actor"], type_=args["type"], date_from=args["from"], date_to=args["to"],
            process=args["process"], version=args["version"], reference=args["reference"], page=page)
    except Invalid as exc:
        events, total, error = [], 0, exc
    return render_template("audit/index.html", args=args, events=events, total=total, page=page,
                           per_page=audit_trail.PAGE_SIZE, error=error, words_by_case=audit_trail.words_for(events),
                           touched=audit_trail.cases_touched_by(args["actor"])), 422 if error else 200


@bp.get("/late-responses")
@groups_required(*READERS)
def late_responses():
    return render_template("audit/late.html", rows=audit_trail.late_messages("response"))


@bp.get("/cases/<reference>")
@groups_required(*READERS)
def case(reference):
    types = [t for t in request.args.getlist("type") if t]
    actor = (request.args.get("actor") or "").strip() or None
    trail = audit_trail.timeline(reference, types=types, actor=actor)
    return render_template("audit/case.html", trail=trail, selected_types=types, actor=actor, words=trail.words,
                           chain=trail.chain, steps=audit_trail.steps(trail.case, trail.events, trail.words))


@bp.get("/cases/<reference>/diagram.bpmn")
@groups_required(*READERS)
def diagram(reference):
    xml = audit_trail.definition_xml(replay.case_by_reference(reference))
    return Response(xml, mimetype="application/xml")


@bp.get("/cases/<reference>/state")
@groups_required(*READERS)
def state(reference):
    trail = audit_trail.timeline(reference)
    at = (request.args.get("at") or "").strip()
    try:
        result = replay.state_at(reference, at or None)
        error = None
    except Invalid as exc:
        result, error = None, exc
    except replay.ReplayError as exc:
        result, error = None, exc
    return render_template("audit/state.html", trail=trail, at=at, state=result, error=error, words=trail.words,
                           chain=trail.chain)


@bp.get("/cases/<reference>/verify")
@groups_required(*READERS)
def verify(reference):
    trail = audit_trail.timeline(reference)
    return render_template("audit/verify.html", trail=trail, case=trail.case, chain=trail.chain, words=trail.words,
                           last=verification.last_verification(trail.case.id))


@bp.post("/cases/<reference>/verify")
@groups_required(*READERS)
def run_verify(reference):
    """The full replay, stored as the case's last verification (auditors may: it changes no case data)."""
    differences = verification.verify_and_record_case(reference, current_user.username)
    flash("Vérification terminée : historique conforme." if not differences else
          f"Vérification terminée : {len(differences)} écart(s) détecté(s).", "success" if not differences else "error")
    return redirect(url_for("audit.verify", reference=reference))


@bp.get("/cases/<reference>/export.json")
@groups_required(*READERS)
def export_json(reference):
    return Response(exports.export_json(reference), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="audit-{reference}.json"'})


@bp.get("/cases/<reference>/export.csv")
@groups_required(*READERS)
def export_csv(reference):
    return Response(exports.export_csv(reference), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="audit-{reference}.csv"'})


@bp.get("/cases/<reference>/print")
@groups_required(*READERS)
def print_trail(reference):
    trail = audit_trail.timeline(reference)
    document = exports.export_trail(reference)
    return render_template("audit/print.html", trail=trail, document=document, words=trail.words,
                           chain=trail.chain, problems=exports.verify_export(document))


@bp.get("/cases/<reference>/trail.pdf")
@groups_required(*READERS)
def pdf_trail(reference):
    trail = audit_trail.timeline(reference)
    document = exports.export_trail(reference)
    html = render_template("audit/print.html", trail=trail, document=document, words=trail.words,
                           chain=trail.chain, problems=exports.verify_export(document), pdf=True)
    return Response(paper.pdf(html), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="piste-audit-{reference}.pdf"'})


def _register():
    span = register.period(request.args.get("from"), request.args.get("to"))
    return span, register.rows(span)


@bp.get("/register")
@groups_required(*READERS)
def register_page():
    try:
        span, rows = _register()
        error = None
    except Invalid as exc:
        span, rows, error = register.period(None, None), [], exc
    return render_template("audit/register.html", span=span, rows=rows, columns=register.COLUMNS, error=error,
                           args={"from": request.args.get("from", ""), "to": request.args.get("to", "")})


@bp.get("/register.csv")
@groups_required(*READERS)
def register_csv():
    span, rows = _register()
    return Response(register.to_csv(span, rows), mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="registre-reclamations-{span.start}-{span.end}.csv"'})


@bp.get("/register.pdf")
@groups_required(*READERS)
def register_pdf():
    span, rows = _register()
    html = render_template("audit/register.html", span=span, rows=rows, columns=register.COLUMNS, error=None,
                           args={}, pdf=True)
    return Response(paper.pdf(html), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="registre-reclamations-{span.start}-{span.end}.pdf"'})
