"""Command-line interface: init-db | deploy | demo | users create | audit verify/replay | timers run | outbox send |
backup create/restore | mail fetch."""

import time
from pathlib import Path

import click
from flask import current_app

from app.cli import audit as audit_cli
from app.extensions import db


def register(app) -> None:
    """Attach the commands to the app."""
    app.cli.add_command(init_db)
    app.cli.add_command(deploy)
    app.cli.add_command(demo)
    app.cli.add_command(users)
    app.cli.add_command(audit_cli.audit_group)
    app.cli.add_command(timers)
    app.cli.add_command(outbox_group)
    app.cli.add_command(indicators_group)
    app.cli.add_command(files_group)
    from app.cli.privacy import privacy_group

    app.cli.add_command(privacy_group)
    from app.cli.backup import backup_group

    app.cli.add_command(backup_group)
    app.cli.add_command(mail_group)


@click.command("init-db")
def init_db():
    """Create the tables of an empty database and stamp it at the latest migration (idempotent).

    A database already under migrations is upgraded instead. Production uses `flask db upgrade`;
    tests/test_migrations.py keeps the models and the migrations identical, so both give the same schema.
    """
    from flask_migrate import stamp, upgrade
    from sqlalchemy import inspect

    if inspect(db.engine).has_table("alembic_version"):
        upgrade()
    else:
        db.create_all()
        stamp()
    _seed_templates()
    click.echo(f"Base prête : {db.engine.url.render_as_string(hide_password=True)}")


def _seed_templates() -> None:
    """Create the message templates missing from the table from app/templates/messages (never overwrite one)."""
    from app.services.messaging.templates import seed_missing

    created = seed_missing("cli")
    if created:
        click.echo(f"Modèles de messages créés : {', '.join(created)}")


@click.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", help="Who deploys (recorded in the audit log).")
def deploy(files, actor):
    """Deploy BPMN files (default: every .bpmn in processes/); unchanged files make no new version."""
    from app.engine import DefinitionError
    from app.services.core.definitions import deploy_files

    paths = list(files) or sorted(Path(current_app.config["PROCESSES_DIR"]).glob("*.bpmn"))
    if not paths:
        raise click.ClickException("Aucun fichier BPMN à déployer.")
    try:
        results = deploy_files(paths, actor)
    except DefinitionError as exc:
        for element, message in exc.problems:
            click.echo(f"  {element or 'document'} : {message}", err=True)
        raise click.ClickException("Déploiement refusé.") from None
    for definition, created in results:
        state = "nouvelle version" if created else "inchangé"
        click.echo(f"{definition.key} v{definition.version} ({definition.sha256[:12]}) : {state}")
    _seed_templates()


@click.command("demo")
@click.option("--cases", default=6, show_default=True, help="How many demo cases to start.")
@click.option("--bulk/--engine", default=None,
              help="Insert cases directly (fast, for volume tests) or run them through the engine. "
                   "Default: bulk above 500 cases.")
def demo(cases, bulk):
    """Load the demo users (password 'demo') and a few demo cases (or many, in bulk)."""
    from app.cli.demo_data import ensure_users, load_demo

    if bulk or (bulk is None and cases > 500):
        from app.cli.demo_bulk import generate

        ensure_users()
        started = time.perf_counter()
        created = generate(cases)
        click.echo(f"Dossiers insérés en masse : {created} en {time.perf_counter() - started:.1f} s")
        return
    users_created, references = load_demo(cases)
    click.echo(f"Utilisateurs créés : {users_created}; dossiers créés : {len(references)}")
    for reference in references:
        click.echo(f"  {reference}")


@click.group("users")
def users():
    """Manage users."""


@users.command("create")
@click.argument("name")
@click.option("--groups", default="", help="Comma-separated groups, e.g. gestionnaire,qualite")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--full-name", default="")
@click.option("--email", default=None)
def users_create(name, groups, password, full_name, email):
    """Create a user (asks for the password)."""
    from app.services.core.errors import Invalid
    from app.services.people.users import create_user

    try:
        user = create_user(name, password, groups.split(","), full_name=full_name, email=email)
    except Invalid as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from None
    click.echo(f"Utilisateur {user.username} créé, groupes : {', '.join(user.groups) or '-'}")


@users.command("password")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_password(name, password):
    """Change a user's password: their open sessions and API tokens stop working."""
    from app.services.core.errors import Invalid
    from app.services.people import sessions
    from app.services.people.users import by_username

    user = by_username(name)
    if user is None:
        raise click.ClickException(f"Utilisateur inconnu : {name}")
    try:
        sessions.change_password(user, password)
    except Invalid as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from None
    click.echo(f"Mot de passe de {user.username} changé : ses sessions ouvertes sont fermées.")


@users.command("sign-out")
@click.argument("name")
def users_sign_out(name):
    """End every web session of a user (a lost laptop, a departure)."""
    from app.services.people import sessions
    from app.services.people.users import by_username

    user = by_username(name)
    if user is None:
        raise click.ClickException(f"Utilisateur inconnu : {name}")
    sessions.revoke_all(user)
    click.echo(f"Sessions de {user.username} fermées.")


@click.group("indicators")
def indicators_group():
    """The indicator facts and the daily rollup behind the dashboard."""


@indicators_group.command("rebuild")
def indicators_rebuild():
    """Recompute the facts and the rollup from the cases, their tasks and the audit log (one transaction)."""
    from app.services.core import rollup

    rows = rollup.rebuild()
    db.session.commit()
    click.echo(f"Indicateurs recalculés : {rows} lignes d'agrégats.")


def _beat(worker: str, error: str | None = None) -> None:
    """Write the worker's heartbeat (/health/ready, /metrics); a database still away only skips this one."""
    from app.services.ops.heartbeat import beat

    try:
        beat(worker, error)
    except Exception:  # noqa: BLE001 - the next pass beats again
        db.session.rollback()


@click.group("timers")
def timers():
    """Fire due timers."""


@timers.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--batch", default=100, show_default=True, help="Cases handled per pass.")
def timers_run(once, interval, batch):
    """Fire the timers that are due, in a loop (or once); sign an audit checkpoint when one is due."""
    from app.services.cases.lifecycle import fire_due_timers

    while True:
        try:
            audit_cli.checkpoint_if_due()
            fired = fire_due_timers(limit=batch)
            _beat("timers")
        except Exception as exc:  # noqa: BLE001 - a lost database must not stop the worker: retry next pass
            if once:
                raise
            current_app.logger.exception("timer pass failed")
            click.echo(f"Passe interrompue ({type(exc).__name__}) : nouvelle tentative dans {interval:g} s", err=True)
            _beat("timers", type(exc).__name__)
            fired = []
        if fired or once:
            click.echo(f"Minuteries déclenchées : {len(fired)} {' '.join(fired)}".rstrip())
        if once:
            return
        if len(fired) < batch:  # a full batch means more are due: go on at once
            time.sleep(interval)


@click.group("outbox")
def outbox_group():
    """Send the messages to complainants."""


@outbox_group.command("send")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between passes.")
def outbox_send(once, interval):
    """Send pending e-mails by SMTP (SMTP_URL), mark letters to print; retry failures with backoff."""
    from app.services.messaging.outbox import send_pending

    if not current_app.config.get("SMTP_URL"):
        click.echo("SMTP_URL non configuré : les e-mails restent en attente, les courriers passent à imprimer.")
    while True:
        try:
            report = send_pending()
            _beat("outbox")
        except Exception as exc:  # noqa: BLE001 - same as the timer worker: keep running
            if once:
                raise
            current_app.logger.exception("outbox pass failed")
            click.echo(f"Passe interrompue ({type(exc).__name__})", err=True)
            _beat("outbox", type(exc).__name__)
            report = None
        if report is not None and (once or report.sent or report.failed or report.to_print):
            click.echo(f"Envoyés : {len(report.sent)}, échecs : {len(report.failed)}, "
                       f"à imprimer : {len(report.to_print)}, notifications : {report.notifications}")
        if once:
            return
        time.sleep(interval)


@click.group("files")
def files_group():
    """Stored attachments."""


@files_group.command("sweep")
@click.option("--minutes", default=60.0, show_default=True, help="Leave files younger than this (uploads in progress)")
def files_sweep(minutes):
    """Finish interrupted uploads and delete files no row refers to; prune the used idempotency keys."""
    from app.services.cases import files
    from app.services.core import idempotency

    report = files.sweep(minutes)
    pruned = idempotency.prune()
    click.echo(f"Fichiers : {len(report.published)} remis en place, {len(report.removed)} orphelins supprimés ; "
               f"{pruned} clé(s) d'idempotence expirée(s) supprimée(s).")



@click.group("mail")
def mail_group():
    """Read the complainants' e-mail (IMAP_URL)."""


@mail_group.command("fetch")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between passes.")
@click.option("--batch", default=200, show_default=True, help="Messages handled per pass.")
def mail_fetch(once, interval, batch):
    """Turn the mails waiting in the IMAP folder into cases and replies, then move them to IMAP_DONE_FOLDER."""
    from app.services.mailbox.fetcher import configured, fetch_once

    try:
        config = configured()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if config is None:
        click.echo("IMAP_URL non configuré : aucune relève du courrier électronique.")
        return
    while True:
        try:
            report = fetch_once(limit=batch)
        except Exception as exc:  # noqa: BLE001 - a lost mail server or database must not stop the worker
            if once:
                raise click.ClickException(f"Relève interrompue ({type(exc).__name__}) : {exc}") from None
            current_app.logger.exception("mail fetch pass failed")
            click.echo(f"Relève interrompue ({type(exc).__name__}) : nouvelle tentative dans {interval:g} s", err=True)
            report = None
        if report is not None and (once or report.outcomes):
            click.echo(report.summary())
        if once:
            return
        if report is None or len(report.outcomes) < batch:  # a full batch means more are waiting: go on at once
            time.sleep(interval)
