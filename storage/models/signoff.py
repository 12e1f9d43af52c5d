"""Sign-off (审签), versions of a report, and leaders' marks on it.

`report_signoffs` holds one row per report whose unit must sign it off: who may (the unit
that signs), whether the report waits for it before going beyond its unit (`hold`) or went up
at once as a flash report (`flash`), and what happened. `report_versions` keeps every
correction with who, when, why and what changed; version 1 is the report as filed.
`report_marks` records 待核实 (with a deadline and a result), 谎报, 瞒报, 迟报 and 解除预警.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import JSONType, UTCDateTime, utcnow


class ReportSignoff(Base):
    __tablename__ = "report_signoffs"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    mode: Mapped[str] = mapped_column(String(8))                 # hold, flash
    state: Mapped[str] = mapped_column(String(12))               # waiting, returned, signed
    approver_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)         # a held report goes up then
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)    # went beyond its unit
    lapsed: Mapped[bool] = mapped_column(Boolean, default=False)         # went up unsigned (未审签)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # approvers reminded once
    wait_seconds: Mapped[int] = mapped_column(Integer, default=0)        # held before going up
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    signed_by_name: Mapped[str] = mapped_column(String(128), default="")
    returned_note: Mapped[str] = mapped_column(Text, default="")         # what is missing (退回补充)
    rounds: Mapped[int] = mapped_column(Integer, default=1)              # asked again after each return

    __table_args__ = (
        CheckConstraint("mode IN ('hold', 'flash')", name="mode_known"),
        CheckConstraint("state IN ('waiting', 'returned', 'signed')", name="state_known"),
        Index("ix_report_signoffs_due", "released_at", "due_at"),
    )


class ReportVersion(Base):
    __tablename__ = "report_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)                          # 2 is the first correction
    kind: Mapped[str] = mapped_column(String(16))          # correct, signoff, supplement, level
    author_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(128), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[dict] = mapped_column(JSONType, default=dict)        # field → [before, after]

    __table_args__ = (UniqueConstraint("report_id", "number", name="uq_report_versions_report_number"),)


class ReportMark(Base):
    __tablename__ = "report_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))          # verify, false, concealed, late, lifted
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)    # None: the bot (迟报)
    actor_name: Mapped[str] = mapped_column(String(128), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)         # 待核实: the result by then
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_name: Mapped[str] = mapped_column(String(128), default="")

    __table_args__ = (
        CheckConstraint("kind IN ('verify', 'false', 'concealed', 'late', 'lifted')", name="kind_known"),
        Index("ix_report_marks_open", "kind", "resolved_at", "due_at"),
    )


__all__ = ["ReportMark", "ReportSignoff", "ReportVersion"]
