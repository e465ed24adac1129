"""Complaint and dispute management driven by BPMN: the Flask application factory."""

import logging
from pathlib import Path

from flask import Flask

from app.config import load_config
from app.extensions import db, migrate
from app.vocabulary import CAPA_READERS, LETTER_GROUPS, REPORT_READERS
from app.web import csrf, limiter, login_manager


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    from app.ops import rate_limits  # registers the database:// storage scheme

    app.config["RATELIMIT_STORAGE_URI"] = rate_limits.storage_uri(app.config)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."

    from app import models  # noqa: F401  (register the tables)
    from app.models import User
    from app.services.core import case_lock, rollup
    from app.services.core.audit import clear_pending

    @login_manager.user_loader
    def load_user(user_id: str):
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None

    from sqlalchemy import event

    with app.app_context():
        event.listen(db.session, "after_commit", clear_pending)
        event.listen(db.session, "after_rollback", clear_pending)
        rollup.install()
        case_lock.install()
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

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

    ops.init_app(app)
    from app.actions import bp as actions_bp
    from app.reports import bp as reports_bp

    app.register_blueprint(reports_bp)
    app.register_blueprint(actions_bp)
    from app.public import bp as public_bp

    app.register_blueprint(public_bp)
    csrf.exempt(public_bp)  # its forms check their CSRF token themselves, to re-render with what was typed
    from app.cases import bp as cases_bp
    from app.tasks import bp as tasks_bp

    app.register_blueprint(tasks_bp)
    app.register_blueprint(cases_bp)
    app.jinja_env.globals["nav_links"] = _nav_links
    from app import ui

    ui.install(app)

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
    ("letters.index", "Courriers", (*LETTER_GROUPS, "auditeur")),
]


def _nav_links():
    """The navigation links the signed-in user may follow."""
    from flask import current_app
    from flask_login import current_user

    links = []
    for endpoint, label, groups in NAV:
        if endpoint not in current_app.view_functions:
            continue
        if groups is not None and not current_user.in_any(*groups):
            continue
        links.append((endpoint, label))
    return links


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys on, WAL for concurrent readers, and wait for locks instead of failing at once."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
