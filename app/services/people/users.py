"""Users, passwords and API tokens."""

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import User
from app.services.core.errors import Invalid
from app.services.core.transaction import transaction

KNOWN_GROUPS = ("accueil", "gestionnaire", "service", "qualite", "responsable", "finance", "commercial",
                "direction", "auditeur", "proprietaire", "admin")


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


def authenticate(username: str, password: str) -> User | None:
    """The active local user with this name and password, or None (sign-in with the directory too: signin.py)."""
    user = by_username(username or "")
    if user is None or not user.active or not user.check_password(password or ""):
        return None
    return user


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-token")


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
