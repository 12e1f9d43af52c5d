"""The organisation's version: bumped by every transaction that changes members, memberships,
units, group chats or invites, so that each process knows when its cache of them is stale."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class OrgVersion(Base):
    __tablename__ = "org_version"

    # One row, id 1 (written by the migration).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
