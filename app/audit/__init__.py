"""Auditors' pages: case timeline and path, state at any moment, verification, search, export."""

from flask import Blueprint

from app.vocabulary import AUDIT_READERS

bp = Blueprint("audit", __name__, url_prefix="/audit")
READERS = AUDIT_READERS


@bp.app_template_global("audit_verification")
def audit_verification(case_id: int):
    """The case's last stored verification (None if never checked), for audit/_verified_badge.html."""
    from app.services.audit.verification import last_verification

    return last_verification(case_id)


EVENT_LABELS = {
    "case_started": "Dossier ouvert", "engine_steps": "Étapes automatiques", "task_completed": "Tâche terminée",
    "task_claimed": "Tâche prise", "task_released": "Tâche libérée", "task_reassigned": "Tâche réattribuée",
    "timer_fired": "Minuterie déclenchée", "timer_checked": "Minuteries vérifiées",
    "message_sent": "Message envoyé", "message_received": "Message reçu", "message_ignored": "Message ignoré",
    "status_changed": "Statut modifié", "dispute_opened": "Litige ouvert", "incident": "Incident",
    "incident_retried": "Incident relancé", "token_moved": "Jeton déplacé",
    "case_migrated": "Dossier migré", "comment_added": "Commentaire",
    "attachment_added": "Pièce jointe", "definition_deployed": "Version déployée",
    "public_intake_merged": "Nouvelle demande rattachée", "complainant_message": "Message du réclamant",
    "complainant_attachment": "Pièce jointe du réclamant", "capa_actions_created": "Actions CAPA créées",
    "capa_linked": "Action CAPA liée", "capa_unlinked": "Action CAPA déliée",
}


@bp.app_template_global("audit_event_label")
def audit_event_label(type_: str) -> str:
    """The French label of an event type (the type itself when unknown)."""
    return EVENT_LABELS.get(type_, type_)


@bp.app_template_filter("audit_datetime")
def audit_datetime(value) -> str:
    """An aware datetime (or ISO string) as Paris time, dd/mm/yyyy hh:mm:ss."""
    from datetime import datetime

    from app.services.core.handlers import PARIS

    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        return value.strftime("%d/%m/%Y")
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S")


from app.audit import routes  # noqa: E402,F401
