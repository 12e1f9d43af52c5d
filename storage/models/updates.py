"""Updates received by webhook, claimed once so that a redelivered update is not run twice."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime, utcnow


class UpdateStatus(enum.StrEnum):
    PROCESSING = "processing"
    DONE = "done"


class ProcessedUpdate(Base):
    """One row per Telegram update_id. A `processing` row whose lease ran out belonged to a
    replica that died mid-update: the next delivery of that update takes it over."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16), default=UpdateStatus.PROCESSING.value)
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
