"""The models; no SpiffWorkflow import here."""

from app.models.archive import WorkflowStateArchive
from app.models.audit import AuditEvent
from app.models.case import BUSINESS_FIELDS, Case, SequenceCounter, WorkflowState
from app.models.definition import ProcessDefinition
from app.models.outbox import OutboxMessage
from app.models.task import TaskRow
from app.models.user import ADMIN_GROUP, User
from app.models.verification import CaseVerification

__all__ = [
    "ADMIN_GROUP", "AuditEvent", "BUSINESS_FIELDS", "Case", "OutboxMessage", "ProcessDefinition",
    "SequenceCounter", "TaskRow", "User", "WorkflowState", "WorkflowStateArchive",
    "CaseVerification",
]
