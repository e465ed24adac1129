"""Users, passwords and API tokens."""

import functools

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app import clock
from app.extensions import db
from app.models import User
from app.services.core.errors import Invalid
from app.services.core.transaction import transaction
from app.vocabulary import ADMIN_GROUP, STAFF_GROUPS

KNOWN_GROUPS = STAFF_GROUPS


def create_user(username: str, password: str, groups: list[str], full_name: str = "", email: str | None = None,
                commit: bool = True) -> User:
    """Create a user (unique name, non-empty password); commit=False adds it to the caller's transaction."""
    if not commit:
        return _new_user(username, password, groups, full_name, email)
    with transaction():
        return _new_user(username, password, groups, full_name, email)


def _new_user(username: str, password: str, groups: list[str], full_name: str, email: str | None) -> User:
    username = (username or "").strip()
    errors = {}
    if not username or len(username) > 80:
        errors["username"] = "Identifiant obligatoire (80 caractères au plus)."
    elif db.session.scalars(select(User).where(User.username == username)).first():
        errors["username"] = "Cet identifiant existe déjà."
    if not password or len(password) < 4:
        errors["password"] = "Mot de passe trop court."
    if errors:
        raise Invalid(errors)
    user = User(username=username, full_name=full_name or username, email=email, created_at=clock.now())
    user.groups = groups
    user.set_password(password)
    db.session.add(user)
    return user


def login_limit() -> str:
    """Sign-in attempts allowed per client address (pages and API alike), e.g. "10 per minute"."""
    return current_app.config.get("LOGIN_RATELIMIT", "10 per minute;100 per hour")


def by_username(username: str) -> User | None:
    return db.session.scalars(select(User).where(User.username == username)).first()


_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash of a random password with the configured method: checked when the name is unknown, so an unknown
    name costs the same work as a wrong password (the answer time does not tell which names exist)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASHES:
        import secrets

        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


def authenticate(username: str, password: str) -> User | None:
    """The active local user with this name and password, or None; one password hash checked whatever the case
    (unknown names too: no timing tells which exist). Directory sign-in: app/services/staff/signin.py."""
    user = by_username(username or "")
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        return None
    if not user.check_password(password or "") or not user.active:
        return None
    return user


def _serializer() -> URLSafeTimedSerializer:
    key = current_app.config["SECRET_KEY"]
    return _serializer_for(tuple(key) if isinstance(key, list) else key)  # a list of keys (rotation) hashed


@functools.lru_cache(maxsize=8)
def _serializer_for(secret_key) -> URLSafeTimedSerializer:
    """One serializer per secret key (built on every API request before: its signer set-up each time)."""
    return URLSafeTimedSerializer(secret_key, salt="api-token")


def issue_token(user: User) -> str:
    """A signed bearer token; changing the password invalidates it."""
    return _serializer().dumps({"uid": user.id, "pw": user.password_hash[-12:]})


def user_from_token(token: str) -> User | None:
    try:
        payload = _serializer().loads(token, max_age=current_app.config["TOKEN_MAX_AGE"])
    except (BadSignature, SignatureExpired):
        return None
    user = db.session.get(User, payload.get("uid"))
    if user is None or not user.active or user.password_hash[-12:] != payload.get("pw"):
        return None
    return user


def system_user(name: str = "cli") -> User:
    """An unsaved administrator standing for the command line (whoever runs it has the server's shell)."""
    user = User(username=name, full_name="Ligne de commande", groups_csv=ADMIN_GROUP)
    return user
