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
    "message_to_print": "Courrier à imprimer", "message_delivered": "Envoi confirmé",
    "message_delivery_failed": "Échec d'envoi d'un message", "status_changed": "Statut modifié",
    "dispute_opened": "Litige ouvert", "incident": "Incident", "incident_retried": "Incident relancé",
    "token_moved": "Jeton déplacé par un administrateur",
    "case_migrated": "Dossier migré vers une autre version", "comment_added": "Commentaire interne",
    "attachment_added": "Pièce jointe ajoutée", "definition_deployed": "Version déployée",
    "intake_linked": "Nouveau contact rattaché",
    "public_intake_merged": "Dépôt reçu du formulaire public, non vérifié",
    "public_intake_accepted": "Dépôt du formulaire public accepté",
    "possible_duplicates": "Doublons possibles (dépôt web)", "complainant_message": "Message du réclamant",
    "complainant_attachment": "Pièce jointe du réclamant", "survey_answered": "Enquête de satisfaction",
    "capa_actions_created": "Actions CAPA créées", "capa_linked": "Action CAPA liée",
    "capa_unlinked": "Action CAPA déliée", "capa_action_created": "Action CAPA créée",
    "capa_action_updated": "Action CAPA modifiée", "capa_status_changed": "Statut d'une action CAPA modifié",
    "clock_started": "Délai démarré", "clock_stopped": "Délai arrêté", "clock_paused": "Délai suspendu",
    "clock_resumed": "Délai repris", "verification_recorded": "Vérification enregistrée",
    "reply_sent": "Réponse au réclamant", "reply_draft_saved": "Brouillon de réponse enregistré",
    "template_saved": "Modèle de courrier enregistré",
    "mail_attachment_refused": "Pièce jointe d'un e-mail refusée", "mail_auto_reply": "Réponse automatique reçue",
    "message_bounced": "Message non remis",
    "timer_held": "Minuterie suspendue",
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
                 "mail_subject": "Objet de l'e-mail",
                 "remind_at": "Rappel de l'échéance le", "dispute_reference": "Litige ouvert",
                 "complaint_reference": "Réclamation d'origine", "dispute_outcome": "Issue du litige",
                 "contest_text": "Contestation du réclamant"}

# Groups (the BPMN lane names are group ids).
GROUP_LABELS = {"accueil": "Accueil", "gestionnaire": "Gestion des réclamations", "service": "Services concernés",
                "qualite": "Qualité", "responsable": "Responsables", "finance": "Finance",
                "commercial": "Commercial", "direction": "Direction", "auditeur": "Audit",
                "proprietaire": "Propriétaires de processus", "dpo": "Protection des données",
                "admin": "Administration"}

# Who did something, when it was not a staff member.
ACTOR_LABELS = {"public": "le réclamant (formulaire en ligne)", "complainant": "le réclamant",
                "system": "l'application (échéances)", "cli": "l'exploitation (ligne de commande)",
                "mail": "la messagerie"}

# How a letter leaves (outbox channel).
OUTBOX_CHANNEL_LABELS = {"email": "par e-mail", "letter": "par courrier", "registered_letter": "par lettre recommandée"}

# Deadline clocks and their states.
CLOCK_LABELS = {"acknowledgment": "Accusé de réception", "answer": "Réponse", "holding_letter": "Lettre d’attente",
                "analysis": "Analyse du litige"}
CLOCK_STATE_LABELS = {"running": "en cours", "paused": "suspendu (attente du réclamant)", "overdue": "dépassé",
                      "met": "tenu", "breached": "non tenu"}

# CAPA actions.
CAPA_KIND_LABELS = {"curative": "Curative", "corrective": "Corrective", "preventive": "Préventive"}
CAPA_STATUS_LABELS = {"open": "Ouverte", "in_progress": "En cours", "done": "Réalisée", "cancelled": "Abandonnée"}

# Keys the application writes into audit events (form fields are named by the BPMN forms).
DATA_KEY_LABELS = {
    "clock": "Délai", "calendar": "Calendrier", "days": "Durée (jours)", "due_at": "Échéance",
    "started_at": "Démarré le", "outcome": "Résultat", "paused_seconds": "Durée de suspension",
    "channel": "Canal", "recipient": "Destinataire", "subject": "Objet", "template": "Modèle de message",
    "outbox_id": "Message n°", "from": "Avant", "to": "Après", "assignee": "Attribuée à",
    "previous": "Détenteur précédent", "error": "Erreur", "reference": "Dossier lié", "message": "Message",
    "payload": "Contenu du message", "variables": "Dates concernées", "actions": "Actions", "action": "Action n°",
    "kind": "Type", "title": "Titre", "fields": "Champs", "filename": "Fichier", "size": "Taille (octets)",
    "text": "Texte", "comment_id": "Commentaire n°", "candidates": "Dossiers semblables", "version": "Version",
    "definition_id": "Version n°", "definition_sha256": "Empreinte de la définition", "sha256": "Empreinte",
    "key": "Processus", "from_definition_id": "Depuis la version n°", "to_definition_id": "Vers la version n°",
    "from_version": "Depuis la version", "to_version": "Vers la version", "updates": "Dates décalées",
    "resumed_at": "Repris le", "paused_at": "Suspendu le", "owner": "Responsable", "stored_name": "Fichier stocké",
    "content_type": "Type de fichier", "reasons": "Raisons", "changes": "Modifications", "data": "Données",
    "process": "Processus", "parent": "Dossier parent", "description": "Description", "status": "Statut",
    "root_cause": "Cause racine", "effectiveness": "Efficacité", "closed_at": "Clôturé le", "due": "Échéance",
}
# Keys of a message between cases (payload), where they differ from the above.
PAYLOAD_KEY_LABELS = {"from": "Envoyé par le dossier", "outcome": "Issue"}
MESSAGE_TEMPLATE_LABELS = {
    "acknowledgment": "Accusé de réception", "response": "Réponse", "holding_letter": "Lettre d’attente",
    "closure": "Clôture", "survey": "Enquête de satisfaction", "rejection": "Non-recevabilité",
    "dispute_opened": "Ouverture du litige", "dispute_closed": "Clôture du litige",
    "intake_merged": "Nouveau contact rattaché", "tracking_link": "Lien de suivi",
}
CHANNEL_LABELS = {"email": "E-mail", "letter": "Courrier", "web": "Formulaire web", "phone": "Téléphone",
                  "counter": "Accueil physique", "registered_letter": "Lettre recommandée"}
CALENDAR_LABELS = {"calendar": "jours calendaires", "working": "jours ouvrés", "business": "jours ouvrés"}
# BPMN messages between cases (their names are the engine's keys).
MESSAGE_LABELS = {"litige_clos": "Litige clos"}
# What a process waits for (the engine's event definition types) and the BPMN element kinds of a path.
WAITING_LABELS = {
    "TimeDateEventDefinition": "Minuterie (date fixe)", "DurationTimerEventDefinition": "Minuterie (durée)",
    "CycleTimerEventDefinition": "Minuterie (cycle)", "MessageEventDefinition": "Message attendu",
    "SignalEventDefinition": "Signal attendu", "ErrorEventDefinition": "Erreur attendue",
}

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
