"""Reporting tasks (填报任务): a duty of some units to file something by a deadline, on a cadence.

A task's occurrence for one unit is a `TaskPeriod` (open → filed, or missed at the deadline);
each filing is a `TaskFiling` revision, the earlier ones kept.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base
from storage.models.org import Unit
from storage.types import JSONType, UTCDateTime, utcnow


class PeriodStatus(enum.StrEnum):
    OPEN = "open"
    FILED = "filed"
    MISSED = "missed"   # 漏报: nothing filed by the deadline


class Task(Base):
    """What to file, by whom and when; `cadence`, `scope` and `questions` are plain JSON."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Set for tasks from the organisation file ("org:<code>") and built-ins ("builtin:<name>").
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(128))
    instructions: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str | None] = mapped_column(String(32))
    cadence: Mapped[dict] = mapped_column(JSONType, default=dict)
    scope: Mapped[dict] = mapped_column(JSONType, default=dict)
    questions: Mapped[list] = mapped_column(JSONType, default=list)
    due_time: Mapped[str] = mapped_column(String(5), default="17:00")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskPeriod(Base):
    """One occurrence of a task for one unit."""

    __tablename__ = "task_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    occurrence: Mapped[str] = mapped_column(String(32))     # "2025-10-09" or "stage-3"
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[PeriodStatus] = mapped_column(
        Enum(PeriodStatus, name="task_period_status", native_enum=False, length=8,
             values_callable=lambda e: [m.value for m in e]), default=PeriodStatus.OPEN)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    task: Mapped[Task] = relationship()
    unit: Mapped[Unit] = relationship()

    __table_args__ = (
        UniqueConstraint("task_id", "unit_id", "occurrence", name="uq_task_periods_task_unit_occurrence"),
        Index("ix_task_periods_status_due", "status", "due_at"),
        Index("ix_task_periods_unit", "unit_id"),
    )


class TaskFiling(Base):
    """One filing of a period; amending adds a revision, the highest is current."""

    __tablename__ = "task_filings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("task_periods.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    answers: Mapped[list] = mapped_column(JSONType, default=list)       # one per question
    attachments: Mapped[list] = mapped_column(JSONType, default=list)   # [{"kind", "file_id"}]
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    late: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("period_id", "revision", name="uq_task_filings_period_revision"),
        CheckConstraint("revision >= 1", name="task_filing_revision_positive"),
    )
