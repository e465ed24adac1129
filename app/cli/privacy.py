"""flask privacy purge | erase: retention and erasure from the command line (cron, or a DPO at a terminal)."""

import sys

import click


@click.group("privacy")
def privacy_group():
    """Personal data: the retention purge and erasure on request."""


@privacy_group.command("purge")
@click.option("--dry-run", is_flag=True, help="List what is due without changing anything.")
@click.option("--limit", type=int, default=1000, show_default=True, help="Cases anonymised in one run.")
def purge(dry_run, limit):
    """Anonymise the closed cases whose retention period has ended (legal holds kept); prune the access log."""
    from app.services.privacy import access_log, retention

    try:
        report = retention.purge(dry_run=dry_run, limit=limit)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Dossiers arrivés en fin de conservation : {len(report.due)}"
               + (" (simulation : rien n'a été modifié)" if dry_run else f", anonymisés : {len(report.erased)}"))
    for reference in report.due:
        click.echo(f"  {reference}")
    for reference, why in report.kept.items():
        click.echo(f"  conservé {reference} : {why}")
    if not dry_run:
        click.echo(f"Journal des consultations : {access_log.prune()} entrée(s) ancienne(s) supprimée(s).")


@privacy_group.command("erase")
@click.option("--email", help="The person's e-mail address.")
@click.option("--name", help="The person's name (or part of it).")
@click.option("--phone", help="The person's phone number.")
@click.option("--reason", required=True, help="Why (no personal data): kept on the trail.")
@click.option("--yes", is_flag=True, help="Erase without asking (after reading the preview).")
def erase(email, name, phone, reason, yes):
    """Preview, then erase a person's data from every closed case that holds it."""
    from app.services.core.errors import Invalid
    from app.services.people.users import system_user
    from app.services.privacy import erasure, subjects

    user = system_user()
    try:
        cases = subjects.find_cases(user, email=email, name=name, phone=phone)
    except Invalid as exc:
        raise click.ClickException(" ".join(exc.errors.values())) from None
    if not cases:
        click.echo("Aucun dossier ne correspond.")
        return
    plans = [erasure.plan(c) for c in cases]
    for plan in plans:
        click.echo(f"{plan.reference} ({plan.process_key}) : "
                   + ("sera effacé" if plan.erasable else f"NON EFFACÉ — {plan.why_not}"))
        for line in plan.goes if plan.erasable else []:
            click.echo(f"    efface : {line}")
    erasable = [c.id for c, p in zip(cases, plans, strict=True) if p.erasable]
    if not erasable:
        sys.exit(1)
    if not yes and not click.confirm(f"Effacer définitivement {len(erasable)} dossier(s) ?"):
        sys.exit(1)
    term = email or name or phone
    request = subjects.record_request(user, "erasure", term, [p.reference for p in plans if p.erasable], {},
                                      reason=reason)
    done, refused = erasure.erase(erasable, "cli", reason, request.id)
    click.echo(f"Données effacées : {', '.join(done) or 'aucune'}")
    for reference, why in refused.items():
        click.echo(f"  {reference} : {why}", err=True)
