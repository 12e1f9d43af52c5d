"""The dispute register sheet (矛盾纠纷台账): one row per dispute taken in during the period
by a unit in the scope, with its handling as the register records it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.summary import Org
from bot.disputes import store
from bot.disputes.rules import METHODS, OUTCOMES, PARTIES, STATUSES
from bot.i18n import N_, _
from bot.ledger.rows import LedgerFilter
from bot.ledger.sheets import Column, local
from storage.models import Dispute, DisputeAttempt, Report, Supervision, Transfer

SHEET = N_("Dispute register")
BATCH = 200

COLUMNS = [
    Column("number", N_("Dispute no."), 8, "number"), Column("intake", N_("Intake date"), 17, "datetime"),
    Column("unit", N_("Intake unit"), 14), Column("source", N_("Source"), 14),
    Column("parties", N_("Parties"), 8, "number"), Column("kind", N_("Kind of parties"), 10),
    Column("matter", N_("Matter"), 40), Column("level", N_("Level"), 8, "level"), Column("major", N_("Major"), 6),
    Column("leader", N_("Responsible leader"), 12), Column("responsible", N_("Responsible unit"), 14),
    Column("deadline", N_("Deadline"), 17, "datetime"), Column("attempts", N_("Mediation attempts per level"), 30),
    Column("supervision", N_("Supervision"), 30), Column("transfer", N_("Transfer and feedback"), 40),
    Column("result", N_("Written result"), 40), Column("result_at", N_("Result filed at"), 17, "datetime"),
    Column("status", N_("Status"), 12), Column("closed", N_("Closed on"), 17, "datetime"),
]


def _name(org: Org, unit_id: int | None) -> str:
    unit = org.units.get(unit_id) if unit_id is not None else None
    return unit.name if unit else ""


def attempts_cell(org: Org, attempts: list[DisputeAttempt]) -> str:
    """"和平社区 3（未化解、部分化解、未化解）" per level, levels joined with "；"."""
    levels: dict[int, list[str]] = {}
    for attempt in attempts:
        levels.setdefault(attempt.level_unit_id, []).append(_(OUTCOMES[attempt.outcome]))
    return _("; ").join(_("{unit} {count} ({outcomes})").format(unit=_name(org, unit), count=len(words),
                                                                   outcomes="、".join(words))
                          for unit, words in levels.items())


def supervision_cell(org: Org, items: list[Supervision], tz: ZoneInfo) -> str:
    return _("; ").join(_("{unit} {method}, due {due}").format(
        unit=_name(org, s.by_unit_id), method=_(METHODS[s.method]), due=f"{local(s.due_at, tz):%Y-%m-%d}")
        for s in items)


def transfer_cell(org: Org, items: list[Transfer], tz: ZoneInfo) -> str:
    parts = []
    for t in items:
        part = _("{unit}, due {due}").format(unit=_name(org, t.department_id), due=f"{local(t.due_at, tz):%Y-%m-%d}")
        if t.feedback_at:
            part += _(": feedback {text}").format(text=t.feedback)
        parts.append(part)
    return _("; ").join(parts)


def values(d: Dispute, org: Org, names: dict[int, str], found: dict, tz: ZoneInfo, reference: str) -> list:
    return [d.id, local(d.created_at, tz), _name(org, d.intake_unit_id), reference or _("registered directly"),
            d.parties_count, _(PARTIES[d.parties_kind]), d.matter, d.level, _("yes") if d.major else "",
            names.get(d.leader_id, ""), _name(org, d.unit_id), local(d.deadline_at, tz),
            attempts_cell(org, found["attempts"].get(d.id, [])),
            supervision_cell(org, found["supervisions"].get(d.id, []), tz),
            transfer_cell(org, found["transfers"].get(d.id, []), tz), d.result, local(d.result_at, tz),
            _(STATUSES[d.status]), local(d.closed_at, tz)]


async def dispute_rows(session: AsyncSession, org: Org, flt: LedgerFilter, tz: ZoneInfo) -> AsyncIterator[list]:
    """The sheet's rows, in batches: a few queries per batch whatever its size."""
    start, end = flt.period.bounds(tz)
    after = 0
    while True:
        query = (select(Dispute).where(Dispute.intake_unit_id.in_(flt.units), Dispute.created_at >= start,
                                       Dispute.created_at < end, Dispute.id > after).order_by(Dispute.id).limit(BATCH))
        batch = list((await session.execute(query)).scalars())
        if not batch:
            return
        for row in await _batch(session, org, batch, tz):
            yield row
        after = batch[-1].id


async def _batch(session: AsyncSession, org: Org, batch: list[Dispute], tz: ZoneInfo) -> list[list]:
    ids = [d.id for d in batch]
    found: dict[str, dict[int, list]] = {"attempts": {}, "supervisions": {}, "transfers": {}}
    for key, items in (("attempts", await store.attempts(session, ids)),
                       ("supervisions", await store.supervisions(session, ids)),
                       ("transfers", await store.transfers(session, ids))):
        for item in items:
            found[key].setdefault(item.dispute_id, []).append(item)
    names = await store.member_names(session, {d.leader_id for d in batch} - {None})
    references = await _references(session, [d.report_id for d in batch if d.report_id])
    return [values(d, org, names, found, tz, references.get(d.report_id, "")) for d in batch]


async def _references(session: AsyncSession, report_ids: list[int]) -> dict[int, str]:
    if not report_ids:
        return {}
    return dict((await session.execute(select(Report.id, Report.reference).where(Report.id.in_(report_ids)))).all())
