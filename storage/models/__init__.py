"""Every model, imported here so that metadata and Alembic see them all."""

from storage.models.base import Base
from storage.models.calendar import SensitivePeriod
from storage.models.case import (
    CaseCard,
    CaseDeadline,
    CaseEvent,
    CaseFile,
    CaseReceipt,
    CaseView,
    FollowUp,
)
from storage.models.daily import DailyKind, DailyMiss, DailyReport, UnitQuota
from storage.models.dispute import (
    Dispute,
    DisputeAttempt,
    DisputeCard,
    DisputeEvent,
    Supervision,
    Transfer,
)
from storage.models.duty import DutyShift
from storage.models.fsm import FSMState
from storage.models.jobs import JobRun, JobStatus
from storage.models.opinion import Evaluation, OpinionCase, OpinionEntry
from storage.models.org import AuditLog, GroupChat, Invite, Member, Membership, Role, Unit
from storage.models.outbox import OutboxFile, OutboxMessage, OutboxStatus, Priority, SenderLease
from storage.models.report import Attachment, CaseStatus, Category, ReferenceCounter, Report
from storage.models.signoff import ReportMark, ReportSignoff, ReportVersion
from storage.models.task import PeriodStatus, Task, TaskFiling, TaskPeriod
from storage.models.updates import ProcessedUpdate, UpdateStatus
from storage.models.version import OrgVersion

__all__ = [
    "Attachment",
    "AuditLog",
    "Base",
    "CaseCard",
    "CaseDeadline",
    "CaseEvent",
    "CaseFile",
    "CaseReceipt",
    "CaseView",
    "CaseStatus",
    "Category",
    "DailyKind",
    "DailyMiss",
    "DailyReport",
    "Dispute",
    "DisputeAttempt",
    "DisputeCard",
    "DisputeEvent",
    "DutyShift",
    "Evaluation",
    "FSMState",
    "FollowUp",
    "GroupChat",
    "Invite",
    "JobRun",
    "JobStatus",
    "Member",
    "Membership",
    "OpinionCase",
    "OpinionEntry",
    "OrgVersion",
    "OutboxFile",
    "OutboxMessage",
    "OutboxStatus",
    "Priority",
    "ProcessedUpdate",
    "ReferenceCounter",
    "Report",
    "ReportMark",
    "ReportSignoff",
    "ReportVersion",
    "PeriodStatus",
    "Role",
    "SenderLease",
    "SensitivePeriod",
    "Supervision",
    "Task",
    "TaskFiling",
    "TaskPeriod",
    "Transfer",
    "Unit",
    "UpdateStatus",
    "UnitQuota",
]
