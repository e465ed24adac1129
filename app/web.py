"""Web-only Flask extensions, created unbound and initialised in the app factory: sign-in, CSRF, rate limits.

Blueprints may import these (never `app.extensions`, which holds the database).
"""

import time

from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature

login_manager = LoginManager()
csrf = CSRFProtect()
# Per client address; no default limits: sign-in and public pages declare theirs. Storage, on/off and
# strategy come from the config (RATELIMIT_STORAGE_URI, default from app/ops/rate_limits.py; RATELIMIT_ENABLED).
limiter = Limiter(key_func=get_remote_address)

USERNAME = "reclamations.username"  # the WSGI environ key of the request's user name


def remember_user(username: str) -> None:
    """Note the request's user as it is loaded (session or bearer token): the access log line names it without
    reading the user row again, which a commit has expired (one query after every change otherwise)."""
    request.environ[USERNAME] = username


class KeptCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, with each verified cookie's content kept per app: a browser sends the same
    cookie on every request until the session changes, and checking its signature and decoding it again cost
    ~0.1 ms a request. A kept cookie is the very string that was verified under the same keys (the key of the
    kept entry), so it verifies the same way; its age is checked on every request as itsdangerous checks it
    (PERMANENT_SESSION_LIFETIME), and its content is decoded again from JSON, so that no request shares
    mutable values with another. At most KEPT cookies, forgotten all at once past that."""

    KEPT = 2000

    def open_session(self, app, request):
        if not app.secret_key:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        kept = app.extensions.setdefault("reclamations.session_cookies", {})
        key = (value, app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        found = kept.get(key)
        if found is not None:
            signed_at, payload = found
            if 0 <= int(time.time()) - signed_at <= max_age:
                return self.session_class(self.serializer.loads(payload))
            kept.pop(key, None)  # expired: an empty session, as itsdangerous's SignatureExpired gives
            return self.session_class()
        try:
            data, signed_at = self.get_signing_serializer(app).loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if len(kept) >= self.KEPT:
            kept.clear()
        kept[key] = (int(signed_at.timestamp()), self.serializer.dumps(data))
        return self.session_class(data)
