"""Security headers on every response, and an optional proxy fix for deployments behind a TLS proxy.

The CSP allows scripts and styles from this site only (the vendored bpmn-js included). An inline <script>
needs the per-request nonce: <script nonce="{{ csp_nonce() }}">. Inline style attributes stay allowed
because bpmn-js and diagram-js set them on the diagram's SVG.
"""

import secrets

from flask import request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from app.web import USERNAME


def csp_nonce() -> str:
    """The nonce of this request, for the rare inline script."""
    if "reclamations.csp_nonce" not in request.environ:
        request.environ["reclamations.csp_nonce"] = secrets.token_urlsafe(16)
    return request.environ["reclamations.csp_nonce"]


_POLICY = "; ".join([
    "default-src 'self'",
    "script-src {script}",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
_POLICY_NO_NONCE = _POLICY.format(script="'self'")
# Set on every response unless the view set its own (e.g. the attachment preview's stricter policy).
_FIXED = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
          ("Cross-Origin-Opener-Policy", "same-origin"),
          ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))


def _policy() -> str:
    nonce = request.environ.get("reclamations.csp_nonce")
    return _POLICY.format(script=f"'self' 'nonce-{nonce}'") if nonce else _POLICY_NO_NONCE


def _headers(response):
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # one pass, not one scan per header set by default
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", _policy())
    for name, value in _FIXED:
        if name.lower() not in present:
            headers.add(name, value)
    # Nothing a signed-in person sees, nor any API answer, is kept by a browser or a proxy cache. A user loaded
    # for this request is known from the environ (app/web.py) without touching the user row, which a commit
    # may have expired; current_user is asked only otherwise (a sign-in in this very request).
    if request.endpoint != "static" and (request.blueprint == "api" or USERNAME in request.environ
                                         or current_user.is_authenticated):
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if request.is_secure and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_app(app) -> None:
    if app.config.get("TRUSTED_PROXIES"):
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
    app.after_request(_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
