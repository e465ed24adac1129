"""The models; no SpiffWorkflow import here."""

from app.models.archive import WorkflowStateArchive
from app.models.audit import AuditEvent
from app.models.capa import ACTION_KINDS, ACTION_STATUSES, Action, ActionCase
from app.models.case import BUSINESS_FIELDS, Case, SequenceCounter, WorkflowState
from app.models.correspondence import MessageTemplate, ReplyDraft
from app.models.deadline import CaseClock, Notification
from app.models.definition import ProcessDefinition
from app.models.idempotency import IdempotencyKey
from app.models.mail import MAIL_STATUSES, IngestedMail
from app.models.notes import Attachment, Comment
from app.models.ops import WorkerHeartbeat
from app.models.outbox import OutboxMessage
from app.models.privacy import AccessLog, LegalHold, PrivacyRequest
from app.models.rate_limit import RateLimitCounter
from app.models.rollup import CaseRollup
from app.models.task import TaskRow
from app.models.user import ADMIN_GROUP, User
from app.models.verification import CaseVerification

__all__ = [
    "ACTION_KINDS", "ACTION_STATUSES", "ADMIN_GROUP", "MAIL_STATUSES", "AccessLog", "Action", "ActionCase",
    "Attachment", "AuditEvent", "BUSINESS_FIELDS", "Case", "CaseClock", "CaseRollup", "CaseVerification", "Comment",
    "IdempotencyKey", "IngestedMail", "LegalHold", "MessageTemplate", "Notification", "OutboxMessage",
    "PrivacyRequest", "ProcessDefinition", "RateLimitCounter", "ReplyDraft", "SequenceCounter", "TaskRow", "User",
    "WorkerHeartbeat", "WorkflowState", "WorkflowStateArchive",
]
