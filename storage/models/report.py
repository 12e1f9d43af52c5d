"""Incident reports (首报), their attachments, and the daily reference counter."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.level import Level
from storage.models.base import Base
from storage.models.org import Member, Unit
from storage.types import JSONType, LevelType, UTCDateTime, utcnow


class Category(enum.StrEnum):
    PETITION = "petition"                  # 信访
    COLLECTIVE_PETITION = "collective_petition"  # 集体访 / 越级访
    DISPUTE = "dispute"                    # 矛盾纠纷
    PUBLIC_OPINION = "public_opinion"      # 网络舆情
    WORKPLACE_SAFETY = "workplace_safety"  # 安全生产
    NATURAL_DISASTER = "natural_disaster"  # 自然灾害
    PUBLIC_HEALTH = "public_health"        # 公共卫生
    OTHER = "other"


class CaseStatus(enum.StrEnum):
    REPORTED = "reported"
    RECEIVED = "received"
    ASSIGNED = "assigned"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    FINAL_REPORTED = "final_reported"   # 终报 in, waiting for a leader to close it (办结)
    CLOSED = "closed"
    ESCALATED = "escalated"
    MERGED = "merged"
    REJECTED = "rejected"


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)   # 20261121-0007
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"), index=True)
    category: Mapped[Category] = mapped_column(_str_enum(Category, "report_category"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(255), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    people: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    measures: Mapped[str] = mapped_column(Text, default="")
    needs: Mapped[str] = mapped_column(Text, default="")
    # Category-specific answers: link and platform (public opinion), reach (petitions),
    # opinion_class; kept as JSON so a new category needs no migration.
    extra: Mapped[dict] = mapped_column(JSONType, default=dict)
    level: Mapped[Level] = mapped_column(LevelType)               # 1 (I, highest) … 4 (IV)
    rule_level: Mapped[Level] = mapped_column(LevelType)          # what the rules alone gave
    level_rule: Mapped[str] = mapped_column(String(64))           # the rule that set it
    sensitive_period: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[CaseStatus] = mapped_column(_str_enum(CaseStatus, "case_status"), default=CaseStatus.REPORTED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    local_date: Mapped[date] = mapped_column(Date, index=True)   # filing day in the bot's zone

    unit: Mapped[Unit] = relationship(lazy="raise")
    reporter: Mapped[Member] = relationship(lazy="raise")
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="raise", back_populates="report", cascade="all, delete-orphan", order_by="Attachment.position")

    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 4", name="level_range"),
        CheckConstraint("people >= 0", name="people_non_negative"),
        Index("ix_reports_unit_day", "unit_id", "local_date"),
    )


class Attachment(Base):
    __tablename__ = "report_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))          # photo, document, voice, video
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(64), default="")
    file_name: Mapped[str | None] = mapped_column(String(255))

    report: Mapped[Report] = relationship(lazy="raise", back_populates="attachments")


class ReferenceCounter(Base):
    """Per-day sequence behind references people can say aloud (20261121-0007)."""

    __tablename__ = "reference_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


__all__ = ["Attachment", "CaseStatus", "Category", "Report", "ReferenceCounter"]
