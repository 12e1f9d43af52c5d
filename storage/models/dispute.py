"""Disputes (矛盾纠纷): the intake register (受理登记) and what each dispute's handling adds.

`disputes` is the register: one row per dispute, taken in from a dispute report or
registered directly, with its parties as a count and a kind only (no individuals are
tracked), the responsible leader, unit and deadline, and the written result.
`dispute_attempts` are the mediation attempts (调处) per level, `dispute_events` the
timeline, `dispute_cards` every copy of the card. `supervisions` (督办) and `transfers`
(转送) concern a dispute or any case (a report), exactly one of the two.
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import JSONType, UTCDateTime, utcnow

ONE_SUBJECT = "(dispute_id IS NULL) <> (report_id IS NULL)"


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"), unique=True)
    source: Mapped[str] = mapped_column(String(16))            # report | direct
    intake_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    matter: Mapped[str] = mapped_column(Text)
    parties_count: Mapped[int] = mapped_column(Integer, default=2)
    parties_kind: Mapped[str] = mapped_column(String(16), default="other")
    level: Mapped[int] = mapped_column(SmallInteger, default=4)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="intake")
    # The mediating level now: the unit whose attempts count towards moving up.
    level_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A major dispute's proposed assignment while it waits for the principal leader.
    proposal: Mapped[dict] = mapped_column(JSONType, default=dict)
    result: Mapped[str] = mapped_column(Text, default="")
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    card_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (
        CheckConstraint("parties_count >= 1", name="parties_positive"),
        CheckConstraint("level BETWEEN 1 AND 4", name="dispute_level_range"),
        Index("ix_disputes_result_due", "result_at", "result_due_at"),
    )


class DisputeAttempt(Base):
    """One mediation attempt (调处) at one level."""

    __tablename__ = "dispute_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    level_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    number: Mapped[int] = mapped_column(SmallInteger)           # 1st, 2nd … at this level
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mediator: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))            # resolved | partly | not
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("dispute_id", "level_unit_id", "number", name="uq_dispute_attempts_level_number"),
    )


class DisputeEvent(Base):
    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)   # None: the bot itself
    actor_name: Mapped[str] = mapped_column(String(128), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSONType, default=dict)

    __table_args__ = (Index("ix_dispute_events_dispute_at", "dispute_id", "at"),)


class DisputeCard(Base):
    __tablename__ = "dispute_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(160))

    __table_args__ = (UniqueConstraint("dispute_id", "chat_id", name="uq_dispute_cards_dispute_chat"),)


class Supervision(Base):
    """督办: a leader of a unit above marks a dispute or a case, with a method and a deadline."""

    __tablename__ = "supervisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    by_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    by_telegram_id: Mapped[int] = mapped_column(BigInteger)
    by_name: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))     # letter | word | meeting | site_visit | bulletin
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(ONE_SUBJECT, name="supervision_one_subject"),
        Index("ix_supervisions_open", "settled_at", "due_at"),
    )


class Transfer(Base):
    """转送: to a department outside the reporting chain, with its deadline and its feedback (反馈)."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    by_telegram_id: Mapped[int] = mapped_column(BigInteger)
    by_name: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    feedback: Mapped[str] = mapped_column(Text, default="")
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_by: Mapped[str] = mapped_column(String(128), default="")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(ONE_SUBJECT, name="transfer_one_subject"),
        Index("ix_transfers_open", "feedback_at", "due_at"),
    )


__all__ = ["Dispute", "DisputeAttempt", "DisputeCard", "DisputeEvent", "Supervision", "Transfer"]
