"""Audit API: a case's state at any moment (rebuilt by replay) and the cross-case event search."""

from flask import g, jsonify, request

from app.api import bp, token_required
from app.services.audit import replay
from app.services.audit import trail as audit_trail
from app.services.core.errors import Forbidden, Invalid
from app.vocabulary import AUDIT_READERS as READERS

MAX_PER_PAGE = 500


def _require_reader() -> None:
    if not g.user.in_any(*READERS):
        raise Forbidden("Réservé aux auditeurs, responsables, direction et qualité.")


@bp.get("/cases/<reference>/state")
@token_required
def case_state(reference):
    _require_reader()
    return jsonify(replay.state_at(reference, request.args.get("at")).to_json())


@bp.get("/audit/events")
@token_required
def audit_events():
    _require_reader()
    try:
        page = min(max(int(request.args.get("page", 1)), 1), 1_000_000)  # no integer overflow in SQL
        per_page = min(max(int(request.args.get("per_page", 100)), 1), MAX_PER_PAGE)
    except ValueError:
        raise Invalid({"page": "Nombre entier attendu."}) from None
    args = request.args
    events, total = audit_trail.search_events(
        actor=args.get("actor"), type_=args.get("type"), date_from=args.get("from"), date_to=args.get("to"),
        process=args.get("process"), version=args.get("version"), reference=args.get("case"),
        page=page, per_page=per_page)
    return jsonify(events=[audit_trail.event_dict(e) for e in events], total=total, page=page, per_page=per_page)
