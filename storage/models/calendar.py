"""Sensitive periods (两会, National Day, …): stricter duty, every day counts, levels raised."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime, utcnow


class SensitivePeriod(Base):
    __tablename__ = "sensitive_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    starts_on: Mapped[date] = mapped_column(Date)     # inclusive, in the bot's time zone
    ends_on: Mapped[date] = mapped_column(Date)       # inclusive
    # An extra morning check-in during the period, "HH:MM" in the bot's zone, or none.
    morning_check_in: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="ends_after_start"),)
