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
        # A liveness check before a pooled connection is reused (a restarted database costs no failed request):
        # on PostgreSQL the transaction's own BEGIN at checkout (no extra round trip, services/core/connections),
        # elsewhere SQLAlchemy's pre-ping. DB_POOL_PRE_PING=false turns it off. Recycled hourly.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": os.environ.get("DB_POOL_PRE_PING", "true").lower()
                                      not in ("0", "false", "no", "off"),
                                      "pool_recycle": int(os.environ.get("DB_POOL_RECYCLE", 3600))},
        "SMTP_URL": os.environ.get("SMTP_URL"),
        # Personal data (README, « Données personnelles »).
        "RETENTION_RULES": os.environ.get("RETENTION_RULES"),
        "ACCESS_LOG_DAYS": int(os.environ.get("ACCESS_LOG_DAYS", 365)),
        "ACCESS_ALERT_CASES_PER_HOUR": int(os.environ.get("ACCESS_ALERT_CASES_PER_HOUR", 50)),
        "PRIVACY_NOTICE": os.environ.get("PRIVACY_NOTICE"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "reclamations@example.org"),
        "TOKEN_MAX_AGE": int(os.environ.get("TOKEN_MAX_AGE", 12 * 3600)),
        # A form stays valid for a working day (a task page left open over lunch still goes through).
        "WTF_CSRF_TIME_LIMIT": int(os.environ.get("WTF_CSRF_TIME_LIMIT", 10 * 3600)),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 10 * 1024 * 1024)),
        "SESSION_COOKIE_HTTPONLY": True,
        # Staff sessions end after this long without a request, and this long after sign-in whatever happens.
        "SESSION_IDLE_MINUTES": float(os.environ.get("SESSION_IDLE_MINUTES", 60)),
        "SESSION_MAX_HOURS": float(os.environ.get("SESSION_MAX_HOURS", 12)),
        # Largest attachment (staff and complainants), and how long a form's idempotency key is remembered.
        "ATTACHMENT_MAX_BYTES": int(os.environ.get("ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)),
        "IDEMPOTENCY_HOURS": float(os.environ.get("IDEMPOTENCY_HOURS", 24)),
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
        # Unset: the application's database, SQLite or PostgreSQL (counters shared by every worker); see
        # app/ops/rate_limits.py. Storage down: each worker falls back to its own memory, never an error page.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or None,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATELIMIT": os.environ.get("LOGIN_RATELIMIT", "10 per minute;100 per hour"),
        "PUBLIC_RATELIMIT": os.environ.get("PUBLIC_RATELIMIT", "120 per minute"),
        "PUBLIC_SUBMIT_RATELIMIT": os.environ.get("PUBLIC_SUBMIT_RATELIMIT", "10 per hour;30 per day"),
        # Operations: /metrics bearer token (unset: loopback clients only); readiness: the workers expected
        # (comma-separated, empty for none) and how old their last heartbeat may be; backups.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        "READY_WORKERS": os.environ.get("READY_WORKERS"),
        "HEARTBEAT_MAX_AGE": float(os.environ.get("HEARTBEAT_MAX_AGE", 60)),
        "BACKUP_DIR": os.environ.get("BACKUP_DIR") or None,
        "PG_BIN_DIR": os.environ.get("PG_BIN_DIR") or None,
        "ATTACHMENT_DIR": os.environ.get("ATTACHMENT_DIR") or None,
        # Directory sign-in (app/services/people/directory.py; README, "Directory sign-in"). Unset LDAP_URL:
        # local accounts only.
        **{name: os.environ.get(name) or None for name in (
            "LDAP_URL", "LDAP_USER_DN_TEMPLATE", "LDAP_BIND_DN", "LDAP_BIND_PASSWORD", "LDAP_SEARCH_BASE",
            "LDAP_GROUP_BASE", "LDAP_GROUP_MAP", "LDAP_DISABLED_GROUP", "LDAP_CA_FILE")},
        "LDAP_USER_FILTER": os.environ.get("LDAP_USER_FILTER", "(uid={username})"),
        "LDAP_GROUP_FILTER": os.environ.get("LDAP_GROUP_FILTER", "(|(member={dn})(uniqueMember={dn}))"),
        "LDAP_ATTR_NAME": os.environ.get("LDAP_ATTR_NAME", "displayName"),
        "LDAP_ATTR_MAIL": os.environ.get("LDAP_ATTR_MAIL", "mail"),
        "LDAP_START_TLS": _flag("LDAP_START_TLS"),
        "LDAP_TLS_VERIFY": os.environ.get("LDAP_TLS_VERIFY", "1").lower() not in ("0", "false", "no", "off"),
        "LDAP_TIMEOUT": float(os.environ.get("LDAP_TIMEOUT", 5)),
        # Budgets of user code and limits on data and documents (README, « Sécurité »).
        "SCRIPT_TIME_BUDGET_MS": int(os.environ.get("SCRIPT_TIME_BUDGET_MS", 200)),
        "SCRIPT_MEMORY_BUDGET_MB": int(os.environ.get("SCRIPT_MEMORY_BUDGET_MB", 64)),
        "CASE_DATA_MAX_BYTES": int(os.environ.get("CASE_DATA_MAX_BYTES", 1024 * 1024)),
        "MAX_BPMN_ELEMENTS": int(os.environ.get("MAX_BPMN_ELEMENTS", 2000)),
        "TIMER_MIN_CYCLE_SECONDS": int(os.environ.get("TIMER_MIN_CYCLE_SECONDS", 60)),
        # Letters: the letterhead and sender block, the place of the date line, the signature, the mediator.
        "LETTER_SENDER_NAME": os.environ.get("LETTER_SENDER_NAME", "Service Relations clients"),
        "LETTER_SENDER_ADDRESS": os.environ.get("LETTER_SENDER_ADDRESS", ""),
        "LETTER_SENDER_CONTACT": os.environ.get("LETTER_SENDER_CONTACT", ""),
        "LETTER_PLACE": os.environ.get("LETTER_PLACE", "Paris"),
        "LETTER_SIGNATURE": os.environ.get("LETTER_SIGNATURE", "Le service Relations clients"),
        "MEDIATOR_TEXT": os.environ.get("MEDIATOR_TEXT", ""),
        # Incoming e-mail (app/services/mailbox): unset IMAP_URL, no intake. See README, « Boîte aux lettres ».
        "IMAP_URL": os.environ.get("IMAP_URL") or None,
        "IMAP_DONE_FOLDER": os.environ.get("IMAP_DONE_FOLDER", "Traités"),
        "MAIL_MAX_BYTES": int(os.environ.get("MAIL_MAX_BYTES", 25 * 1024 * 1024)),
        "MAIL_BLOCKED_SENDERS": os.environ.get("MAIL_BLOCKED_SENDERS", ""),
        # Audit keys and checkpoints live outside the database (see app/services/core/audit_keys.py and
        # app/services/audit/checkpoints.py): a database administrator cannot recompute a keyed chain nor
        # rewrite a signed checkpoint.
        "AUDIT_KEY": os.environ.get("AUDIT_KEY"),
        "AUDIT_KEY_ID": os.environ.get("AUDIT_KEY_ID"),
        "AUDIT_OLD_KEYS": os.environ.get("AUDIT_OLD_KEYS"),
        "AUDIT_KEY_DIR": os.environ.get("AUDIT_KEY_DIR", str(path / "audit_keys")),
        "AUDIT_CHECKPOINT_DIR": os.environ.get("AUDIT_CHECKPOINT_DIR", str(path / "checkpoints")),
        "AUDIT_CHECKPOINT_EMAIL": os.environ.get("AUDIT_CHECKPOINT_EMAIL"),
        "AUDIT_CHECKPOINT_HOURS": float(os.environ.get("AUDIT_CHECKPOINT_HOURS", 24)),
        "PROCESSES_DIR": os.environ.get("PROCESSES_DIR", str(Path(__file__).resolve().parent.parent / "processes")),
    }
