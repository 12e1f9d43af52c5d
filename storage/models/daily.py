"""The daily report (日报 / 零报告) of each unit, the days it missed (漏报), and weekly quotas."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import JSONType, UTCDateTime, utcnow


class DailyKind(enum.StrEnum):
    ZERO = "zero"      # 零报告: nothing to report today
    ITEMS = "items"    # the unit's reports filed today, with an optional note


class DailyReport(Base):
    """One filing; a second one the same day is a new revision, the highest is current."""

    __tablename__ = "daily_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date)     # the reporting day, in the bot's zone
    revision: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[DailyKind] = mapped_column(
        Enum(DailyKind, name="daily_kind", native_enum=False, length=8,
             values_callable=lambda e: [m.value for m in e]))
    note: Mapped[str] = mapped_column(Text, default="")
    # References of the unit's reports listed when it was filed (a snapshot, for the record).
    report_refs: Mapped[list] = mapped_column(JSONType, default=list)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    late: Mapped[bool] = mapped_column(Boolean, default=False)          # 迟报: after the deadline

    __table_args__ = (
        UniqueConstraint("unit_id", "local_date", "revision", name="uq_daily_reports_unit_day_revision"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        Index("ix_daily_reports_day_unit", "local_date", "unit_id"),
    )


class DailyMiss(Base):
    """漏报: the unit had filed nothing for this day when its deadline passed."""

    __tablename__ = "daily_misses"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_daily_misses_day", "local_date"),)


class UnitQuota(Base):
    """A unit's own weekly reporting quota, overriding the default for its kind."""

    __tablename__ = "unit_quotas"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    weekly_quota: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("weekly_quota >= 0", name="weekly_quota_non_negative"),)
