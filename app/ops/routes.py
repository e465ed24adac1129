"""GET /health: for load balancers and monitoring (anonymous, no rate limit, no session)."""

from flask import jsonify

from app.ops import bp
from app.services.ops import health


@bp.get("/health")
def health_check():
    report = health.check()
    return jsonify(report), 200 if report["status"] == "ok" else 503
