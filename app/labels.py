"""The French label catalogue: one home for the words people read instead of codes.

Form fields, enum options, task and lane names come from the deployed BPMN (app/services/indicators/labels.py
reads them); everything the application itself names (event types, statuses, clocks, CAPA kinds) is here.
Imports nothing from the application.
"""

# Audit event types, as the staff timeline and the auditors' pages name them.
EVENT_LABELS = {
    "case_started": "Dossier enregistré", "engine_steps": "Étapes automatiques", "task_completed": "Étape terminée",
    "task_claimed": "Tâche prise", "task_released": "Tâche libérée", "task_reassigned": "Tâche réattribuée",
    "draft_saved": "Brouillon enregistré", "timer_fired": "Échéance atteinte", "timer_checked": "Minuteries vérifiées",
    "message_sent": "Message au réclamant", "message_received": "Message reçu", "message_ignored": "Message ignoré",
    "message_to_print": "Courrier à imprimer", "message_delivered": "Message remis",
    "message_delivery_failed": "Échec d'envoi d'un message", "status_changed": "Statut modifié",
    "dispute_opened": "Litige ouvert", "incident": "Incident", "incident_retried": "Incident relancé",
    "case_migrated": "Dossier migré vers une autre version", "comment_added": "Commentaire interne",
    "attachment_added": "Pièce jointe ajoutée", "definition_deployed": "Version déployée",
    "intake_linked": "Nouveau contact rattaché", "public_intake_merged": "Nouveau contact web rattaché",
    "possible_duplicates": "Doublons possibles (dépôt web)", "complainant_message": "Message du réclamant",
    "complainant_attachment": "Pièce jointe du réclamant", "survey_answered": "Enquête de satisfaction",
    "capa_actions_created": "Actions CAPA créées", "capa_linked": "Action CAPA liée",
    "capa_unlinked": "Action CAPA déliée", "capa_action_created": "Action CAPA créée",
    "capa_action_updated": "Action CAPA modifiée", "capa_status_changed": "Statut d'une action CAPA modifié",
    "clock_started": "Délai démarré", "clock_stopped": "Délai arrêté", "clock_paused": "Délai suspendu",
    "clock_resumed": "Délai repris", "verification_recorded": "Vérification enregistrée",
    "case_escalated": "Escalade manuelle", "complaint_contested": "Contestation du réclamant",
}
# Events the staff timeline folds away unless they name steps.
HIDDEN_EVENTS = {"timer_checked", "engine_steps"}

# Case statuses: staff wording, and the wording complainants read on the tracking page.
STATUS_LABELS = {"open": "Ouvert", "in_progress": "En cours", "waiting_customer": "En attente du client",
                 "answered": "Répondu", "resolved": "Résolu", "closed": "Clos", "rejected": "Non recevable"}
PUBLIC_STATUS_LABELS = {"open": "Enregistré", "in_progress": "En cours de traitement",
                        "answered": "Réponse envoyée", "resolved": "Résolu", "closed": "Clôturé"}

# Data keys the process sets itself (not form fields); other keys are process internals, never shown.
SYSTEM_LABELS = {"due_at": "Échéance de réponse", "escalation_at": "Date d'escalade", "status": "Statut",
                 "closed_at": "Clôturé le", "acknowledged_at": "Accusé de réception le",
                 "remind_at": "Rappel de l'échéance le", "dispute_reference": "Litige ouvert",
                 "complaint_reference": "Réclamation d'origine", "contest_text": "Contestation du réclamant"}

# Groups (the BPMN lane names are group ids).
GROUP_LABELS = {"accueil": "Accueil", "gestionnaire": "Gestion des réclamations", "service": "Services concernés",
                "qualite": "Qualité", "responsable": "Responsables", "finance": "Finance",
                "commercial": "Commercial", "direction": "Direction", "auditeur": "Audit",
                "proprietaire": "Propriétaires de processus", "admin": "Administration"}

# Who did something, when it was not a staff member.
ACTOR_LABELS = {"public": "le réclamant (formulaire en ligne)", "complainant": "le réclamant",
                "system": "l'application (échéances)", "cli": "l'exploitation (ligne de commande)",
                "mail": "la messagerie"}

# How a letter leaves (outbox channel).
OUTBOX_CHANNEL_LABELS = {"email": "par e-mail", "letter": "par courrier"}

# Deadline clocks and their states.
CLOCK_LABELS = {"acknowledgment": "Accusé de réception", "answer": "Réponse", "holding_letter": "Lettre d’attente",
                "analysis": "Analyse du litige"}
CLOCK_STATE_LABELS = {"running": "en cours", "paused": "suspendu (attente du réclamant)", "overdue": "dépassé",
                      "met": "tenu", "breached": "non tenu"}

# CAPA actions.
CAPA_KIND_LABELS = {"curative": "Curative", "corrective": "Corrective", "preventive": "Préventive"}
CAPA_STATUS_LABELS = {"open": "Ouverte", "in_progress": "En cours", "done": "Réalisée", "cancelled": "Abandonnée"}

# Feedback kinds as a word inside a sentence (« votre réclamation »).
KIND_WORDS = {"complaint": "réclamation", "compliment": "message", "suggestion": "suggestion",
              "request": "demande"}


def group_label(group: str | None) -> str:
    """The French name of a group (the group id itself when unknown)."""
    return GROUP_LABELS.get(group or "", group or "—")


def actor_label(actor: str | None) -> str:
    """Who acted, in words (a username stays as it is)."""
    return ACTOR_LABELS.get(actor or "", actor or "—")


def event_label(type_: str) -> str:
    """The French label of an event type (the type itself when unknown)."""
    return EVENT_LABELS.get(type_, type_)
