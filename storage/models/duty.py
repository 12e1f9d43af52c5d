"""The duty roster (值班): per unit and day, the leader on duty (带班领导) and the duty officer."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base
from storage.models.org import Unit
from storage.types import UTCDateTime, utcnow


class DutyShift(Base):
    __tablename__ = "duty_roster"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)                       # in the bot's time zone
    leader_telegram_id: Mapped[int] = mapped_column(BigInteger)
    officer_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    set_by: Mapped[int | None] = mapped_column(BigInteger)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("unit_id", "day", name="uq_duty_roster_unit_day"),)


__all__ = ["DutyShift"]
