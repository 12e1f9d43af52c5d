"""The outbox: every push the bot owes, written in the same transaction as its cause.

One sender drains it within Telegram's limits; the idempotency key makes a second write
of the same push a no-op, so a retried transaction or a restart never sends a card twice.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import JSONType, UTCDateTime, utcnow


class Priority(enum.IntEnum):
    """Lower goes first. A lower class never waits behind a higher number."""

    INTERACTIVE = 0   # a reply to a person waiting in a conversation (and their receipt)
    URGENT = 1        # level I–II cards and escalations
    NORMAL = 2        # follow-ups, level III–IV cards
    REMINDER = 3      # daily reminders
    BULK = 4          # summaries and other bulk


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"      # permanently: the chat refuses the bot (403, kicked, not found)
    SKIPPED = "skipped"    # the message it depended on failed


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(32), default="sendMessage")
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.NORMAL)
    # Sent only after the row with this key: as a reply to it ("reply") or an edit of it ("edit").
    depends_on_key: Mapped[str | None] = mapped_column(String(160))
    depends_as: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, name="outbox_status", native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)   # Telegram's id of what was sent
    message_ids: Mapped[list | None] = mapped_column(JSONType)    # all ids, for albums
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "next_attempt_at"),
        Index("ix_outbox_chat_id", "chat_id"),
    )


class SenderLease(Base):
    """Who holds a role among the bot's replicas, until when (renewed every few seconds).

    `bulk`: the one replica that drains reminders and bulk pushes; `replica:<owner>`: each
    running sender's presence, so the bulk holder knows how many replicas share the budget.
    """

    __tablename__ = "sender_lease"

    name: Mapped[str] = mapped_column(String(96), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxFile(Base):
    """A file an outbox row uploads (the monthly chart and ledger): rows name it in their
    payload as `outbox-file:<key>`, and the sender reads it at sending time, so a restart or a
    retry uploads the same bytes."""

    __tablename__ = "outbox_files"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    filename: Mapped[str] = mapped_column(String(128))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
