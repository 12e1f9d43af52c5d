"""Routing: which chats a report goes to, and the outbox rows that take it there.

`plan_route` is a plain function of the rules, the report's facts, the reporter's unit
chain (own unit first, root last) and the people of that unit. `route_report` loads those
from the database and `enqueue_pushes` queues the cards, their attachments, the notices to
administrators and the reporter's receipt, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import i18n
from bot.card import send as card_send
from bot.card.keyboards import receipt_keyboard
from bot.card.render import level_reason
from bot.i18n import _
from bot.reporting.rules import ROOT, RouteRule, Rules
from bot.reporting.severity import Facts, Level
from bot.textutil import esc
from storage.models import GroupChat, Member, Membership, Priority, Report, Role, Unit
from storage.outbox import enqueue
from storage.queries import unit_admins


@dataclass(frozen=True)
class UnitNode:
    id: int
    code: str
    name: str
    kind: str
    groups: tuple[tuple[int, str], ...] = ()   # (chat id, title)


@dataclass(frozen=True)
class Person:
    telegram_id: int
    name: str
    role: Role
    locale: str | None = None


@dataclass(frozen=True)
class Target:
    chat_id: int
    kind: str                  # "group" (a unit's group), "person" (private), "chat" (fixed)
    name: str
    locale: str | None = None  # a person's language; groups speak the organisation's default
    unit_id: int | None = None  # the unit the copy is sent for (a group's unit, a person's own)


@dataclass
class Plan:
    targets: list[Target] = field(default_factory=list)
    missing: list[UnitNode] = field(default_factory=list)   # units on the way without a group

    @property
    def groups(self) -> list[Target]:
        return [t for t in self.targets if t.kind != "person"]

    @property
    def people(self) -> list[Target]:
        return [t for t in self.targets if t.kind == "person"]


def matching_rules(rules: Iterable[RouteRule], facts: Facts) -> Iterator[RouteRule]:
    """Rules whose `when` holds, parents before their children."""
    for rule in rules:
        if rule.when.matches(facts):
            yield rule
            yield from matching_rules(rule.rules, facts)


def plan_route(rules: Iterable[RouteRule], facts: Facts, chain: list[UnitNode],
               people: list[Person], chat_titles: dict[int, str] | None = None,
               chat_units: dict[int, int] | None = None) -> Plan:
    """Targets for a report; with no matching rule it still reaches its own unit's group."""
    matched = list(matching_rules(rules, facts))
    depths = [rule.up_to for rule in matched if rule.up_to is not None] or ([0] if not matched else [])
    plan = Plan()
    if depths and chain:
        _unit_groups(plan, chain, _depth(depths, len(chain)))
    roles = {role for rule in matched for role in rule.roles}
    for person in people:
        if person.role in roles:
            _add(plan, Target(person.telegram_id, "person", person.name, person.locale,
                              chain[0].id if chain else None))
    for rule in matched:
        for chat_id in rule.chats:
            _add(plan, Target(chat_id, "chat", (chat_titles or {}).get(chat_id) or str(chat_id),
                              unit_id=(chat_units or {}).get(chat_id)))
    return plan


def _depth(depths: list[int], length: int) -> int:
    return max(length - 1 if depth == ROOT else min(depth, length - 1) for depth in depths)


def _unit_groups(plan: Plan, chain: list[UnitNode], depth: int) -> None:
    """Each unit up to `depth`; one without a group falls through to its nearest ancestor's."""
    for index, unit in enumerate(chain[: depth + 1]):
        if not unit.groups:
            plan.missing.append(unit)
        holder = next((u for u in chain[index:] if u.groups), None)
        for chat_id, title in holder.groups if holder else ():
            _add(plan, Target(chat_id, "group", title or holder.name, unit_id=holder.id))


def _add(plan: Plan, target: Target) -> None:
    if all(t.chat_id != target.chat_id for t in plan.targets):
        plan.targets.append(target)


# --- Loading the organisation ------------------------------------------------------------------


async def unit_chain(session: AsyncSession, unit_id: int) -> list[UnitNode]:
    """The unit and its ancestors up to the root, each with its bound groups."""
    units = {u.id: u for u in (await session.execute(select(Unit))).scalars()}
    groups: dict[int, list[tuple[int, str]]] = {}
    for group in (await session.execute(select(GroupChat).order_by(GroupChat.id))).scalars():
        groups.setdefault(group.unit_id, []).append((group.chat_id, group.title))
    chain: list[UnitNode] = []
    current = units.get(unit_id)
    while current is not None and all(node.id != current.id for node in chain):
        chain.append(UnitNode(current.id, current.code, current.name, current.kind,
                              tuple(groups.get(current.id, ()))))
        current = units.get(current.parent_id) if current.parent_id else None
    return chain


async def unit_people(session: AsyncSession, unit_id: int) -> list[Person]:
    """Members of the unit who can be written to in private (they pressed Start)."""
    query = (select(Membership).where(Membership.unit_id == unit_id)
             .options(selectinload(Membership.member)).order_by(Membership.id))
    return [Person(m.member.telegram_id, m.member.name, m.role, m.member.locale)
            for m in (await session.execute(query)).scalars()
            if m.member.started_bot and m.member.active]


async def chat_titles(session: AsyncSession, chat_ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """Fixed chats that are bound groups: their title and unit."""
    ids = list(chat_ids)
    if not ids:
        return {}
    query = select(GroupChat.chat_id, GroupChat.title, GroupChat.unit_id).where(GroupChat.chat_id.in_(ids))
    return {chat_id: (title, unit_id) for chat_id, title, unit_id in (await session.execute(query)).all()}


async def route_report(session: AsyncSession, rules: Rules, report: Report) -> Plan:
    chain = await unit_chain(session, report.unit_id)
    own = chain[0] if chain else None
    facts = Facts(category=report.category.value, people=report.people, reach=report.extra.get("reach"),
                  opinion_class=report.extra.get("opinion_class"), unit_code=own.code if own else None,
                  unit_kind=own.kind if own else None, level=Level(report.level))
    fixed = {chat for rule in matching_rules(rules.routing, facts) for chat in rule.chats}
    bound = await chat_titles(session, fixed)
    return plan_route(rules.routing, facts, chain, await unit_people(session, report.unit_id),
                      {chat: title for chat, (title, _unit) in bound.items()},
                      {chat: unit for chat, (_title, unit) in bound.items()})


async def admins(session: AsyncSession, admin_ids: Iterable[int], unit_ids: set[int]) -> list[tuple[int, str | None]]:
    """Whom to tell about a problem of the units: operators and the admins of those units or
    of a unit above them (Telegram id, language), each once."""
    found = await unit_admins(session, unit_ids)
    for telegram_id in admin_ids:
        if telegram_id not in found:
            member = (await session.execute(select(Member).where(Member.telegram_id == telegram_id))).scalar_one_or_none()
            found[telegram_id] = member.locale if member else None
    return sorted(found.items())


# --- Queuing -----------------------------------------------------------------------------------


async def enqueue_pushes(session: AsyncSession, report: Report, plan: Plan, *, default_locale: str,
                         admin_ids: Iterable[int], reporter_locale: str | None = None,
                         brief_groups: bool = False) -> None:
    """Cards, attachments, missing-group notices and the receipt, in the caller's transaction.

    The receipt speaks the language the reporter filled the form in (`reporter_locale`).
    With `brief_groups` (GROUP_CARD_DETAIL=brief) groups get the brief card, no attachments.
    """
    for target in plan.targets:
        await card_send.send_first(session, report, target.chat_id, target.unit_id, target.locale or default_locale,
                                   brief=brief_groups and target.kind != "person")
    await tell_admins_of_missing_groups(session, plan, default_locale, admin_ids)
    with i18n.use_locale(reporter_locale or report.reporter.locale or default_locale):
        # The reporter adds follow-ups (续报) from here; the case life cycle takes the press.
        receipt = {"text": render_receipt(report, plan),
                   "reply_markup": receipt_keyboard(report.id).to_dict()}
    await enqueue(session, f"report:{report.id}:receipt", report.reporter.telegram_id, receipt,
                  priority=Priority.INTERACTIVE)


async def tell_admins_of_missing_groups(session: AsyncSession, plan: Plan, default_locale: str,
                                        admin_ids: Iterable[int]) -> None:
    """Once per unit (the outbox key makes it once): a unit on a route has no group bound."""
    if not plan.missing:
        return
    for unit in plan.missing:
        for admin_id, locale in await admins(session, admin_ids, {unit.id}):
            with i18n.use_locale(locale or default_locale):
                text = _("Unit {unit} ({code}) has no group chat bound, so its reports go to the group of "
                         "the unit above it. To bind one, add the bot to the unit's group and send "
                         "/bindgroup {code} there.").format(unit=esc(unit.name), code=esc(unit.code))
            await enqueue(session, f"missing-group:{unit.code}:{admin_id}", admin_id, {"text": text})


def render_receipt(report: Report, plan: Plan) -> str:
    """For the reporter: the reference, the level and why, and where the report went."""
    lines = [_("✅ <b>Report submitted</b>"),
             _("🔖 Reference: <code>{reference}</code>").format(reference=esc(report.reference)),
             _("Level: {level}").format(level=Level(report.level).label()),
             _("Grounds for the level: {reason}").format(reason=level_reason(report))]
    groups = [esc(target.name) for target in plan.groups]
    if groups:
        lines.append(_("Sent to: {groups}").format(groups=_(", ").join(groups)))
    else:
        lines.append(_("No group chat is bound on your unit's route yet; the administrators have been told."))
    people = [esc(target.name) for target in plan.people]
    if people:
        lines.append(_("Also sent in private to: {names}").format(names=_(", ").join(people)))
    return "\n".join(lines)
