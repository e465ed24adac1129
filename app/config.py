"""Configuration read from the environment."""

import os
import secrets
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY from the environment, or one generated once and kept under instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def normalize_db_url(url: str) -> str:
    """Make a plain postgresql:// URL use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def load_config(instance_path: str) -> dict:
    """Build the Flask config mapping from the environment."""
    path = Path(instance_path)
    default_db = f"sqlite:///{path / 'reclamations.db'}"
    return {
        "SECRET_KEY": _secret_key(path),
        "SQLALCHEMY_DATABASE_URI": normalize_db_url(os.environ.get("DATABASE_URL", default_db)),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SMTP_URL": os.environ.get("SMTP_URL"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "reclamations@example.org"),
        "TOKEN_MAX_AGE": int(os.environ.get("TOKEN_MAX_AGE", 12 * 3600)),
        # A form stays valid for a working day (a task page left open over lunch still goes through).
        "WTF_CSRF_TIME_LIMIT": int(os.environ.get("WTF_CSRF_TIME_LIMIT", 10 * 3600)),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 10 * 1024 * 1024)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Production behind HTTPS: SESSION_COOKIE_SECURE=1 and TRUSTED_PROXIES=1 (hops of X-Forwarded-*).
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE"),
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", 0)),
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json"),  # json | text
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # Public pages: the address complainants reach (links in messages), rate limits per client address.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "true").lower() not in ("0", "false", "no"),
        # Unset: the database on PostgreSQL (counters shared by every worker), memory on SQLite; see
        # app/ops/rate_limits.py. Storage down: each worker falls back to its own memory, never an error page.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or None,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATELIMIT": os.environ.get("LOGIN_RATELIMIT", "10 per minute;100 per hour"),
        "PUBLIC_RATELIMIT": os.environ.get("PUBLIC_RATELIMIT", "120 per minute"),
        "PUBLIC_SUBMIT_RATELIMIT": os.environ.get("PUBLIC_SUBMIT_RATELIMIT", "10 per hour;30 per day"),
        "PROCESSES_DIR": os.environ.get("PROCESSES_DIR", str(Path(__file__).resolve().parent.parent / "processes")),
    }
