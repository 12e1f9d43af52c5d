"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, SmallInteger
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from bot.level import Level


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes, because SQLite drops the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONType(TypeDecorator[object]):
    """JSONB on PostgreSQL, JSON text on SQLite; one named type so migrations render it."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())


def utcnow() -> datetime:
    return datetime.now(UTC)


class LevelType(TypeDecorator[Level]):
    """A report's level: a small integer in the database (1 = I … 4 = IV), a `Level` in Python."""

    impl = SmallInteger
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect) -> int | None:
        return None if value is None else int(Level(value))

    def process_result_value(self, value: int | None, dialect) -> Level | None:
        return None if value is None else Level(value)
