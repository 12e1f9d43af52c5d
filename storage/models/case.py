"""Cases: what happens to a report after it is filed, step by step, with deadlines.

A report (首报) is the case; `case_cards` records every copy of its card, `case_files`
holds what its life adds (the assignee, the final report, the version of its group cards),
`case_events` every change with who, when and why,
`case_receipts` who pressed "Received", `case_deadlines` the response deadlines that a
periodic job checks (kept here, not in memory, so a restart loses none), and
`case_followups` the follow-ups (续报).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.level import Level
from storage.models.base import Base
from storage.models.org import Member
from storage.types import JSONType, LevelType, UTCDateTime, utcnow


class CaseFile(Base):
    __tablename__ = "case_files"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)          # the assignee's deadline
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(Text)                     # the final report (终报)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Units beyond the level's route that the case reached: escalations, merged duplicates.
    extra_unit_ids: Mapped[list] = mapped_column(JSONType, default=list)
    card_version: Mapped[int] = mapped_column(Integer, default=0)         # edits of the group cards
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assignee: Mapped[Member | None] = relationship(lazy="raise", foreign_keys=[assignee_id])


class CaseCard(Base):
    """A copy of the report's card (a group, or a person in private): where the case went.

    The report wizard queues the first cards; the case adds more (escalation, a higher
    level, a merged duplicate). The outbox key is what edits and replies depend on; the
    unit says on whose behalf the copy was sent.
    """

    __tablename__ = "case_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(160))
    # The unit this copy was sent for, fixed at sending: re-binding the group later must not
    # hand the case to the new unit (None: a fixed chat outside the organisation).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("report_id", "chat_id", name="uq_case_cards_report_chat"),)


class CaseEvent(Base):
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))        # an Action, or followup / regrade / ask …
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)   # None: the bot itself
    actor_name: Mapped[str] = mapped_column(String(128), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_before: Mapped[str | None] = mapped_column(String(24))
    status_after: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict] = mapped_column(JSONType, default=dict)

    __table_args__ = (Index("ix_case_events_report_at", "report_id", "at"),)


class CaseReceipt(Base):
    """One row per person who pressed "Received": the proof that a leader saw the push."""

    __tablename__ = "case_receipts"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseView(Base):
    """Each time someone had a brief card's report shown privately (Details): who, from where."""

    __tablename__ = "case_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)   # where Details was pressed
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseDeadline(Base):
    """A response deadline; `step` names it uniquely per case (receive, on_scene, followup-2 …)."""

    __tablename__ = "case_deadlines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    step: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer, default=0)           # the rule's allowance
    # Done (in time or late) or no longer relevant (the case closed, a new assignee).
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # missed and escalated
    escalated_to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    # The chase (催办): rounds taken so far, and when the next one is due (None: no more,
    # the top was reached or the maximum of rounds taken). Claimed round by round.
    chase_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_chase_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("report_id", "step", name="uq_case_deadlines_report_step"),
        Index("ix_case_deadlines_open", "settled_at", "due_at"),
        Index("ix_case_deadlines_chase", "settled_at", "next_chase_at"),
    )


class FollowUp(Base):
    __tablename__ = "case_followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(SmallInteger)                  # 1st, 2nd … follow-up
    author_telegram_id: Mapped[int] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    people_before: Mapped[int] = mapped_column(Integer)
    people_after: Mapped[int] = mapped_column(Integer)
    level_before: Mapped[Level] = mapped_column(LevelType)
    level_after: Mapped[Level] = mapped_column(LevelType)
    photos: Mapped[list] = mapped_column(JSONType, default=list)         # Telegram file ids
    # Documents and voice notes: [{"kind": "document" | "voice", "file_id": …}].
    files: Mapped[list | None] = mapped_column(JSONType, default=list)
    location: Mapped[dict | None] = mapped_column(JSONType)              # {"latitude", "longitude"}

    __table_args__ = (UniqueConstraint("report_id", "number", name="uq_case_followups_report_number"),)


__all__ = ["CaseCard", "CaseDeadline", "CaseEvent", "CaseFile", "CaseReceipt", "FollowUp"]
