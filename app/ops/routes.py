"""GET /health (and /health/live, /health/ready): for load balancers and monitoring (anonymous, no rate limit,
no session); GET /metrics for Prometheus (bearer METRICS_TOKEN, or loopback only when unset)."""

from flask import Response, jsonify

from app.ops import bp
from app.ops.instrument import scrape_allowed
from app.services.ops import health, metrics


@bp.get("/health")
def health_check():
    report = health.check()
    return jsonify(report), 200 if report["status"] == "ok" else 503


@bp.get("/health/live")
def live():
    """The process answers requests (no database access: a database outage must not restart every worker)."""
    return jsonify(status="ok")


@bp.get("/health/ready")
def ready():
    """Ready for traffic: database reachable, schema at head, background workers' heartbeats recent."""
    report = health.ready()
    return jsonify(report), 200 if report["status"] == "ok" else 503


@bp.get("/metrics")
def prometheus_metrics():
    if not scrape_allowed():
        return Response("Accès aux métriques refusé : jeton METRICS_TOKEN requis (ou accès local).\n", 403,
                        mimetype="text/plain")
    return Response(metrics.scrape(), mimetype="text/plain; version=0.0.4; charset=utf-8")
