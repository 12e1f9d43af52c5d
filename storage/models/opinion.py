"""Public-opinion cases (舆情处置) and evaluations (总结评估).

A public-opinion report opens an `opinion_cases` row holding the steps that are done once:
the unified statement (通稿, drafted then approved), the public reply actually published,
and when a leader marked it subsided (已平息). Monitoring notes (links and figures of
spread) and the leaders' consultation views (会商) are many per case: `opinion_entries`.

`evaluations` is the written evaluation due after a case ends: a level I–II case once
closed, or a public-opinion case once subsided. The answers are saved at every step of its
form, so a half-written evaluation is never lost.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import JSONType, UTCDateTime, utcnow


class OpinionCase(Base):
    __tablename__ = "opinion_cases"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    statement: Mapped[str | None] = mapped_column(Text)                 # the draft, then the approved text
    drafted_by: Mapped[str] = mapped_column(String(128), default="")
    drafted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str] = mapped_column(String(128), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)                     # link or text as published
    replied_by: Mapped[str] = mapped_column(String(128), default="")
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subsided_by: Mapped[str] = mapped_column(String(128), default="")
    subsided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OpinionEntry(Base):
    """A monitoring note (`monitor`) or a consultation view (`consult`)."""

    __tablename__ = "opinion_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    author_telegram_id: Mapped[int] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list] = mapped_column(JSONType, default=list)
    figures: Mapped[dict] = mapped_column(JSONType, default=dict)      # views, shares, comments

    __table_args__ = (Index("ix_opinion_entries_report_at", "report_id", "at"),)


class Evaluation(Base):
    """The evaluation (总结评估) of one ended case; `kind` says why it is due."""

    __tablename__ = "evaluations"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))                      # emergency, opinion
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answers: Mapped[dict] = mapped_column(JSONType, default=dict)      # happened, worked, change
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filed_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    filed_by: Mapped[str] = mapped_column(String(128), default="")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_evaluations_open", "filed_at", "due_at"),)


__all__ = ["Evaluation", "OpinionCase", "OpinionEntry"]
