"""Web-only Flask extensions, created unbound and initialised in the app factory: sign-in, CSRF, rate limits.

Blueprints may import these (never `app.extensions`, which holds the database).
"""

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

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
