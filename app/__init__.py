"""Complaint and dispute management driven by BPMN: the Flask application factory."""

import logging
import os
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter as WerkzeugIntegerConverter

from app.config import load_config
from app.extensions import db, migrate
from app.vocabulary import CAPA_READERS, LETTER_GROUPS, PRIVACY_GROUPS, REPORT_READERS
from app.web import KeptCookieSessionInterface, csrf, limiter, login_manager


class IntegerConverter(WerkzeugIntegerConverter):
    """Flask's int converter (same name: tools that read the URL map still recognise it), bounded to what an
    INTEGER column holds on every database (signed 32 bits)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    # INSTANCE_PATH (absolute): the folder of the keys, the default SQLite database and attachments; default
    # instance/ beside the app package. A test gives its own through test_config.
    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    app.session_interface = KeptCookieSessionInterface()

    # <int:...> in a URL stops at the largest SQL INTEGER: a larger id is a 404, not an overflow in the query.
    app.url_map.converters["int"] = IntegerConverter
    from app import engine

    engine.configure(app.config)  # script budgets and data/document limits (process-wide)
    from app.services.core import connections

    # On PostgreSQL the liveness check of a pooled connection is the transaction's own BEGIN (no extra round trip).
    begin_ping = connections.uses_begin_ping(app.config["SQLALCHEMY_DATABASE_URI"],
                                             app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = connections.engine_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                                                         app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    from app.ops import rate_limits  # registers the database:// storage scheme

    app.config["RATELIMIT_STORAGE_URI"] = rate_limits.storage_uri(app.config)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."

    from sqlalchemy import bindparam, select

    from app import models  # noqa: F401  (register the tables)
    from app.models import User
    from app.services.core import session_hooks
    from app.services.people import sessions
    from app.web import remember_user

    # Built once: session.get() builds its primary-key query again on every call (~70 us a request on SQLite).
    user_by_id = select(User).where(User.id == bindparam("user_id"))

    @login_manager.user_loader
    def load_user(user_id: str):
        """The session's user while the session is still valid (generation, idle and absolute lifetimes)."""
        from flask import flash, session

        user = db.session.execute(user_by_id, {"user_id": int(user_id)}).scalar_one_or_none() \
            if str(user_id).isdigit() else None
        reason = sessions.expired_reason(session, user) if user is not None and user.active else "closed"
        if reason is not None:
            session.clear()  # nothing of the old session is kept (not even its CSRF token)
            if user is not None and user.active:
                flash(reason, "info")
            return None
        sessions.touch(session)
        remember_user(user.username)
        return user

    from sqlalchemy import event

    with app.app_context():
        session_hooks.install()
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        elif db.engine.dialect.name == "postgresql":
            connections.install_rollback(db.engine)  # psycopg's prepared statements kept across a read's ROLLBACK
            if begin_ping:
                connections.install(db.engine)

    from app.api import bp as api_bp
    from app.auth import bp as auth_bp

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(auth_bp)
    from app.processes import bp as processes_bp

    app.register_blueprint(processes_bp)
    from app.audit import bp as audit_bp

    app.register_blueprint(audit_bp)
    from app.letters import bp as letters_bp
    from app.notifications import bp as notifications_bp

    app.register_blueprint(notifications_bp)
    app.register_blueprint(letters_bp)
    from app import ops
    from app.admin import bp as admin_bp

    app.register_blueprint(admin_bp)
    from app.mailbox import bp as mailbox_bp

    app.register_blueprint(mailbox_bp)

    ops.init_app(app)
    from app.actions import bp as actions_bp
    from app.reports import bp as reports_bp

    app.register_blueprint(reports_bp)
    app.register_blueprint(actions_bp)
    from app.public import bp as public_bp

    app.register_blueprint(public_bp)
    csrf.exempt(public_bp)  # its forms check their CSRF token themselves, to re-render with what was typed
    from app.cases import bp as cases_bp
    from app.privacy import bp as privacy_bp
    from app.tasks import bp as tasks_bp

    app.register_blueprint(tasks_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(privacy_bp)
    app.jinja_env.globals["nav_links"] = _nav_links
    from app import ui

    ui.install(app)
    from app.services.core import idempotency

    app.jinja_env.globals["idempotency_key"] = idempotency.new_key  # a fresh key in each form (idempotency.py)

    from app.cli import register

    register(app)
    logging.getLogger("SpiffWorkflow").setLevel(logging.WARNING)
    return app


NAV = [  # (endpoint, French label, groups allowed or None for all staff); links to missing pages are skipped
    ("tasks.index", "Tâches", None),
    ("cases.new", "Nouveau dossier", ("accueil", "finance")),
    ("cases.search", "Dossiers", None),
    ("reports.dashboard", "Indicateurs", REPORT_READERS),
    ("actions.index", "Actions", CAPA_READERS),
    ("audit.index", "Audit", ("auditeur",)),
    ("processes.index", "Processus", None),
    ("admin.incidents", "Incidents", ()),
    ("admin.people", "Personnes", ()),
    ("letters.index", "Courriers", (*LETTER_GROUPS, "auditeur")),
    ("letters.templates_index", "Modèles", ("proprietaire",)),
    ("mailbox.index", "Courriels", ("accueil", "responsable", "auditeur")),
    ("auth.absence", "Absence", None),
    ("privacy.index", "Données personnelles", PRIVACY_GROUPS),
]


NAV_KEPT = 4096  # (groups, page) combinations whose links are kept per app, forgotten all at once past that


def _nav_links():
    """The navigation links the signed-in user may follow, as (URL, label, is this page's link).

    A pure function of the user's groups, the page's endpoint and the URL prefix (SCRIPT_NAME), worked out once
    per combination and kept per app: a group change is another key, so it shows at the very next page."""
    from flask import current_app, request, url_for
    from flask_login import current_user

    user = current_user._get_current_object()  # once, not a proxy lookup per link
    endpoint = request.endpoint
    key = (request.environ.get("SCRIPT_NAME", ""), tuple(user.groups), endpoint)
    kept = current_app.extensions.setdefault("reclamations.nav", {})
    links = kept.get(key)
    if links is None:
        views = current_app.view_functions
        allowed = [(e, label) for e, label, groups in NAV
                   if e in views and (groups is None or user.in_any(*groups))]
        exact = any(e == endpoint for e, _ in allowed)
        # the link of this page, else the one of its blueprint (when the blueprint has a single link)
        blueprint = endpoint.split(".")[0] if endpoint else None
        links = tuple((url_for(e), label, e == endpoint or (not exact and blueprint is not None
                                                             and blueprint == e.split(".")[0]))
                      for e, label in allowed)
        if len(kept) >= NAV_KEPT:
            kept.clear()
        kept[key] = links
    return links


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys on, WAL for concurrent readers, wait for locks instead of failing at once, secure delete."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Freed pages are zeroed, so that no earlier copy of an erased personal value stays in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
