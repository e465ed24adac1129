"""`flask backup create [DIR]` and `flask backup restore FILE` (see app/services/ops/backup.py)."""

from pathlib import Path

import click
from flask.cli import AppGroup

from app.services.core.errors import Invalid


@click.group("backup", cls=AppGroup)  # its commands run in an app context however they are invoked
def backup_group():
    """Back up and restore the database, the attachments and the keys."""


@backup_group.command("create")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Then delete all but the KEEP newest backups of the folder.")
def backup_create(folder, keep):
    """Write a consistent backup while the application runs (default folder: BACKUP_DIR or instance/backups)."""
    from app.services.ops import backup

    try:
        result = backup.create(folder, keep)
    except Invalid as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from None
    counts = result.manifest["counts"]
    click.echo(f"Sauvegarde écrite : {result.path}")
    click.echo(f"  schéma {result.manifest['schema_revision']}, {counts['cases']} dossiers, "
               f"{counts['audit_events']} événements d'audit, {len(result.manifest['files'])} fichiers")
    for path in result.pruned:
        click.echo(f"  ancienne sauvegarde supprimée : {path.name}")


@backup_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_restore(file):
    """Restore a backup onto an empty database and an empty attachment folder (checksums checked first)."""
    from app.services.ops import restore
    from app.services.ops.dumps import schema_revision

    try:
        result = restore.restore(file)
    except Invalid as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from None
    counts = result.manifest["counts"]
    click.echo(f"Sauvegarde du {result.manifest['created_at']} restaurée : {counts['cases']} dossiers, "
               f"{result.attachments} pièces jointes, {result.instance_files} fichiers de clés.")
    for aside in result.kept_aside:
        click.echo(f"  ancien fichier conservé : {aside}")
    from flask_migrate import upgrade

    if schema_revision() is not None:
        upgrade()  # a backup of an older release: bring its schema to this code's head
    click.echo(f"Schéma : {schema_revision()}. Redémarrez l'application (la clé secrète a pu changer).")
