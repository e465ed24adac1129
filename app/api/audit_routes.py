"""Audit API: a case's state at any moment (rebuilt by replay) and the cross-case event search."""

from flask import g, jsonify, request

from app.api import bp, token_required
from app.services.audit import replay
from app.services.audit import trail as audit_trail
from app.services.core import bounds
from app.services.core.errors import Forbidden
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
    # Out of range is refused, not clamped: what the OpenAPI document allows is what the server accepts.
    page = bounds.page_number(request.args.get("page"), default=None if "page" in request.args else 1)
    per_page = bounds.whole_number(request.args.get("per_page"), "per_page", 1, MAX_PER_PAGE,
                                   default=None if "per_page" in request.args else 100)
    args = request.args
    events, total = audit_trail.search_events(
        actor=args.get("actor"), type_=args.get("type"), date_from=args.get("from"), date_to=args.get("to"),
        process=args.get("process"), version=args.get("version"), reference=args.get("case"),
        page=page, per_page=per_page)
    return jsonify(events=[audit_trail.event_dict(e) for e in events], total=total, page=page, per_page=per_page)
