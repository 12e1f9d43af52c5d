"""Scheduled runs claimed in the database, so each (job, period, target) runs exactly once
however many bot processes share the database and however often they restart.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    RUNNING = "running"   # claimed; the lease says until when the claimer may finish it
    DONE = "done"
    SKIPPED = "skipped"   # found too late to be of use (e.g. yesterday's reminder)


class JobRun(Base):
    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)       # "summary"
    period: Mapped[str] = mapped_column(String(32), primary_key=True)    # "2025-10-01", "2025-W40"
    target: Mapped[str] = mapped_column(String(64), primary_key=True, default="*")
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, name="job_status", native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=JobStatus.RUNNING,
    )
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
