"""Request metrics: a count and a latency observation per answered request, labelled by the route's endpoint
name (never the raw path: one series per route, whatever the references in URLs), and 429s counted as
rate-limit rejections. The /metrics access rule is here too.
"""

import functools
import hmac
import ipaddress
import time

from flask import current_app, request

from app.services.core.metrics import HTTP_DURATION, HTTP_REQUESTS, RATE_LIMITED

_STARTED = "reclamations.metrics_started"


def _start():
    request.environ[_STARTED] = time.perf_counter()


@functools.lru_cache(maxsize=4096)  # bounded: a method name is the client's (405)
def _children(endpoint: str, method: str, status: int) -> tuple:
    """The labelled series of a route's answers, looked up once per (route, method, status) combination: labels()
    validates and locks on every call."""
    return HTTP_REQUESTS.labels(endpoint, method, str(status)), HTTP_DURATION.labels(endpoint, method)


def _finish(response):
    started = request.environ.get(_STARTED)
    if started is None or request.path.startswith("/static/"):
        return response
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
    requests, duration = _children(endpoint, request.method, response.status_code)
    requests.inc()
    duration.observe(time.perf_counter() - started)
    if response.status_code == 429:
        RATE_LIMITED.labels(endpoint).inc()
    return response


def scrape_allowed() -> bool:
    """METRICS_TOKEN set: the request must carry it as a bearer token. Unset: loopback clients only."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode())
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def init_app(app) -> None:
    app.before_request(_start)
    app.after_request(_finish)
