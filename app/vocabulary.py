"""Values shared across the application, in one home: the display time zone, role groups, fixed vocabularies.

Imports nothing from the application, so models, engine, services, blueprints and templates may all use it.
"""

from datetime import date
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")  # stored in UTC, shown and typed in Paris time

NOTIFICATION_KINDS = ("info", "reminder", "escalation")
# How a message reaches the complainant: e-mail, letter, registered letter (lettre recommandée).
MESSAGE_CHANNELS = ("email", "letter", "registered_letter")
POSTAL_CHANNELS = ("letter", "registered_letter")

# Role groups (the BPMN lanes are groups too): who may do what, stated once.
STAFF_GROUPS = ("accueil", "gestionnaire", "service", "qualite", "responsable", "finance", "commercial",
                "direction", "auditeur", "proprietaire", "dpo", "admin")
READ_ONLY_GROUPS = ("auditeur",)
ADMIN_GROUP = "admin"
OWNER_GROUP = "proprietaire"
MANAGER_GROUPS = ("responsable",)
AUDIT_READERS = ("auditeur", "responsable", "direction", "qualite", "admin")
REPORT_READERS = ("qualite", "responsable", "direction", "auditeur")  # indicators and the CAPA register
CAPA_READERS = REPORT_READERS
CAPA_WRITERS = ("qualite", "responsable")
LETTER_GROUPS = ("accueil", "gestionnaire")  # who prints and posts letters

ACTION_KINDS = ("curative", "corrective", "preventive")
ACTION_STATUSES = ("open", "in_progress", "done", "cancelled")


def is_read_only(user) -> bool:
    """Auditors read everything and change nothing (unless also admin)."""
    return not user.is_admin and any(g in READ_ONLY_GROUPS for g in user.groups) and not any(
        g not in READ_ONLY_GROUPS for g in user.groups)

PRIVACY_GROUPS = ("dpo", "admin")  # the data protection officer: subject access, erasure, legal holds, access log

# The calendar the application handles: beyond, a time zone or a delay overflows Python's dates.
MIN_DAY, MAX_DAY = date(1900, 1, 1), date(2999, 12, 31)
