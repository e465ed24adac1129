"""`flask audit ...`: verify the chains against the signed checkpoints, replay, checkpoint, keys, exports."""

import sys
from pathlib import Path

import click


@click.group("audit")
def audit_group():
    """Check the audit trail."""


@audit_group.command("verify")
@click.argument("reference", required=False)
@click.option("--all-checkpoints", is_flag=True, help="Check the signature and links of every checkpoint file.")
def audit_verify(reference, all_checkpoints):
    """Check the hash chains (all, or one case's) against the latest signed checkpoint; exit non-zero naming
    the cases whose history changed."""
    from app.services.audit import checkpoints

    file_problems = checkpoints.check_files(everything=all_checkpoints)
    problems = checkpoints.verify_chains(reference)
    for p in file_problems:
        click.echo(f"ÉCHEC : point de contrôle {p.name} : {p.message}", err=True)
    if problems:
        cases = sorted({p.reference or "chaîne globale" for p in problems})
        click.echo(f"ÉCHEC : historique modifié pour {len(cases)} chaîne(s) : {', '.join(cases)}", err=True)
        for p in problems:
            click.echo(f"  {p.reference or 'chaîne globale'} événement {p.seq} : {p.message}", err=True)
    if problems or file_problems:
        sys.exit(1)
    latest = checkpoints.latest()
    covered = f" (point de contrôle signé {latest['header']['id']})" if latest else " (aucun point de contrôle signé)"
    click.echo(f"Chaînes d'audit intègres{covered}.")


@audit_group.command("replay")
@click.argument("reference", required=False)
@click.option("--all", "all_cases", is_flag=True, help="Every case.")
def audit_replay(reference, all_cases):
    """Replay cases from their audit log and compare with the stored state; exit non-zero on any difference."""
    from app.services.audit.verification import verify_and_record

    if not reference and not all_cases:
        raise click.UsageError("Donnez une référence ou --all.")
    results = verify_and_record(None if all_cases else [reference], "cli")
    if not results:
        raise click.ClickException(f"Dossier inconnu : {reference}")
    failed = 0
    for ref, diffs in results:
        if diffs:
            failed += 1
            click.echo(f"ÉCART {ref} : {len(diffs)} différence(s)", err=True)
            for diff in diffs:
                click.echo(f"  {diff}", err=True)
    click.echo(f"Dossiers rejoués : {len(results)}, conformes : {len(results) - failed}, écarts : {failed}")
    if failed:
        sys.exit(1)


@audit_group.command("checkpoint")
@click.option("--actor", default="cli", help="Who asks (written in the checkpoint).")
def audit_checkpoint(actor):
    """Sign a checkpoint of every chain head now (written to AUDIT_CHECKPOINT_DIR, e-mailed if configured)."""
    from app.services.audit import checkpoints

    document = checkpoints.create(actor)
    header = document["header"]
    click.echo(f"Point de contrôle {header['id']} : {header['chains']} chaîne(s), racine {header['root']}")


def checkpoint_if_due() -> None:
    """The timer worker's daily checkpoint (AUDIT_CHECKPOINT_HOURS)."""
    from app.services.audit import checkpoints

    if checkpoints.due():
        header = checkpoints.create("timers")["header"]
        click.echo(f"Point de contrôle d'audit signé : {header['id']} ({header['chains']} chaîne(s))")


@audit_group.command("public-key")
def audit_public_key():
    """Print the public key (PEM) that verifies checkpoints and exports."""
    from app.services.audit import checkpoints

    click.echo(checkpoints.public_key_pem().decode("ascii"), nl=False)


@audit_group.command("rotate-key")
def audit_rotate_key():
    """Make a new HMAC audit key the active one (old keys stay in the key ring for verification)."""
    from flask import current_app

    from app.services.core import audit_keys

    if current_app.config.get("AUDIT_KEY"):
        raise click.ClickException("AUDIT_KEY est fixée par l'environnement : changez-la là "
                                   "(l'ancienne dans AUDIT_OLD_KEYS).")
    click.echo(f"Nouvelle clé d'audit active : {audit_keys.rotate()}")


@audit_group.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM file (default: this installation's key).")
def audit_verify_export(file, public_key):
    """Check an exported trail (JSON or CSV) with the public key: signature, checkpoint, proof, chain."""
    from app.services.audit import checkpoints, exports

    pem = public_key.read_bytes() if public_key else checkpoints.public_key_pem()
    problems = exports.verify_file(file.read_bytes(), pem)
    if problems:
        for problem in problems:
            click.echo(f"ÉCHEC : {problem}", err=True)
        sys.exit(1)
    click.echo("Export intègre : signature, point de contrôle et chaîne vérifiés avec la clé publique.")
