"""Members with their memberships and units, cached per process between updates.

Every update needs the speaker (is this a member, of which units, in which role, in which
language); loading them costs three queries and ORM row building per update. They change
rarely, so each Database keeps them, tagged with the organisation's version, a number in
`org_version` that every transaction changing the organisation raises. Each update reads the
version along with its conversation state (one statement, see bot/runtime.py): a replica
whose cache is older drops it.

`org_changed(session)` is the one call for code that changes the organisation in ways the
session cannot see (raw SQL on another connection). Writes through the session to members,
memberships, units, group chats or invites (ORM objects or Core statements on those tables)
are noticed here and raise the version in the same transaction by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.models import GroupChat, Invite, Member, Membership, OrgVersion, Unit
from storage.updates import ClaimingSession

ORG_TABLES = frozenset(model.__tablename__ for model in (Member, Membership, Unit, GroupChat, Invite))
ORG_MODELS = (Member, Membership, Unit, GroupChat, Invite)
_BUMP = update(OrgVersion).where(OrgVersion.id == 1).values(version=OrgVersion.version + 1)
_MISSING = object()


@dataclass
class OrgCache:
    """telegram id → Member (detached, memberships and units loaded; None for strangers)."""

    version: int | None = None
    members: dict[int, Member | None] = field(default_factory=dict)

    def get(self, version: int | None, telegram_id: int) -> Member | None | object:
        """The cached member, or _MISSING when it must be loaded (unknown or stale)."""
        if version is None or version != self.version:
            self.members.clear()
            self.version = version
            return _MISSING
        return self.members.get(telegram_id, _MISSING)

    def put(self, version: int | None, telegram_id: int, member: Member | None) -> None:
        if version is not None and version == self.version:
            self.members[telegram_id] = member

    def clear(self) -> None:
        self.members.clear()
        self.version = None


MISSING = _MISSING


async def org_changed(session: AsyncSession) -> None:
    """Mark the organisation changed in this transaction: every process drops its cache of
    members once it commits (this one at once, the others at their next update)."""
    session.sync_session.info["org_changed"] = True


def _bump(session: Session) -> None:
    session.execute(_BUMP)
    caches = session.info.setdefault("org_caches_to_clear", [])
    caches.extend(session.info.get("org_caches", []))


@event.listens_for(ClaimingSession, "before_flush")
def _flushing(session: Session, _context, _instances) -> None:
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, ORG_MODELS):
            session.info["org_changed"] = True
            return
    for obj in session.dirty:
        if isinstance(obj, ORG_MODELS) and session.is_modified(obj):
            session.info["org_changed"] = True
            return


@event.listens_for(ClaimingSession, "do_orm_execute")
def _executing(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in ORG_TABLES:
            state.session.info["org_changed"] = True


@event.listens_for(ClaimingSession, "before_commit")
def _committing(session: Session) -> None:
    # before_commit runs before the final flush: pending org objects count too.
    if not session.info.get("org_changed"):
        _flushing(session, None, None)
    if session.info.pop("org_changed", False):
        _bump(session)


@event.listens_for(ClaimingSession, "after_commit")
def _committed(session: Session) -> None:
    for cache in session.info.pop("org_caches_to_clear", []):
        cache.clear()


@event.listens_for(ClaimingSession, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop("org_changed", None)
    session.info.pop("org_caches_to_clear", None)
