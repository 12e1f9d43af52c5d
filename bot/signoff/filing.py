"""At filing, in the filing transaction: what the sign-off rules say, which copies wait for
it, the approver's private request, and the automatic late (迟报) mark.

A held report (mode `wait`) goes at once only where its own unit reads it (its group, or
the group it falls through to, and its own people in private); the rest of its route waits
for the sign-off or the deadline (`bot.signoff.service.release`). A flash report goes
everywhere at once and the sign-off follows. A reporter who is an approver signs off by
submitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.callbacks import SignoffPress, SignoffStep
from bot.card import render
from bot.i18n import N_, _
from bot.reporting.routing import Plan, Target, UnitNode, unit_chain
from bot.reporting.rules import Rules
from bot.reporting.severity import Facts, Level
from bot.signoff import store
from bot.signoff.policy import FLASH, NONE, Decision
from bot.signoff.view import Standing
from bot.textutil import TELEGRAM_TEXT_LIMIT, esc
from storage.models import Member, Priority, Report, ReportMark, ReportSignoff
from storage.outbox import content_notice, enqueue

REQUEST_BUTTONS = ((N_("✍️ Sign off"), SignoffStep.SIGN), (N_("✏️ Edit, then sign off"), SignoffStep.EDIT),
                   (N_("↩️ Send back"), SignoffStep.SEND_BACK))


@dataclass
class Hold:
    """The sign-off a filing asked for, for the receipt and the first cards."""

    mode: str
    approvers: list[str] = field(default_factory=list)
    held: list[Target] = field(default_factory=list)
    minutes: int = 0
    self_signed: bool = False

    def standing(self, reporter: str, now: datetime, marks: tuple[str, ...]) -> Standing:
        state = "signed" if self.self_signed else "waiting"
        return Standing("flash" if self.mode == FLASH else "hold", state, tuple(self.approvers),
                        reporter if self.self_signed else "", now if self.self_signed else None, marks=marks)

    def receipt_lines(self) -> list[str]:
        names = esc(_(", ").join(self.approvers))
        if self.self_signed:
            return [_("✍️ Signed off by you as the unit's leader.")]
        if self.mode == FLASH:
            return [_("⚡ Sent up at once as a flash report; the sign-off by {names} follows.").format(names=names)]
        lines = [_("✍️ Waiting for sign-off by {names}.").format(names=names)]
        if self.held:
            lines.append(_("After the sign-off it also goes to {groups}; without it, it goes there in {minutes} "
                           "minutes marked not signed off.").format(
                groups=esc(_(", ").join(t.name for t in self.held)), minutes=self.minutes))
        return lines


def facts_for(report: Report) -> Facts:
    extra = report.extra or {}
    return Facts(category=report.category.value, people=report.people, reach=extra.get("reach"),
                 opinion_class=extra.get("opinion_class"), unit_code=report.unit.code, unit_kind=report.unit.kind,
                 level=Level(report.level))


async def at_filing(session: AsyncSession, report: Report, plan: Plan, rules: Rules, *, now: datetime,
                    default_locale: str) -> Plan:
    """Record the sign-off the rules ask for and keep back what must wait; returns the plan to send now."""
    marks = ("late",) if await mark_late(session, report, rules, now) else ()
    plan.card_view = render.CardView(standing=Standing(marks=marks))
    decision = rules.signoff.decide(facts_for(report))
    unit = await store.approver_unit(session, report.unit_id) if decision.mode != NONE else None
    if unit is None:
        return plan
    leaders = await store.unit_leaders(session, unit.id)
    hold = Hold(decision.mode, [m.name for m in leaders], minutes=decision.minutes,
                self_signed=any(m.id == report.reporter_id for m in leaders))
    row = ReportSignoff(report_id=report.id, mode="flash" if decision.mode == FLASH else "hold", state="waiting",
                        approver_unit_id=unit.id, requested_at=now, lapsed=False, wait_seconds=0, rounds=1,
                        signed_by_name="", returned_note="")
    if hold.self_signed:
        row.state, row.signed_at, row.released_at = "signed", now, now
        row.signed_by_telegram_id, row.signed_by_name = report.reporter.telegram_id, report.reporter.name
    elif decision.mode != FLASH:
        plan = await _keep_back(session, report, plan, hold, row, decision, now)
    else:
        row.released_at, row.due_at = now, now + timedelta(minutes=decision.minutes)   # the reminder
    session.add(row)
    plan.signoff = hold
    plan.card_view = render.CardView(standing=hold.standing(report.reporter.name, now, marks))
    if not hold.self_signed:
        await ask_approvers(session, report, leaders, row.rounds, default_locale)
    return plan


async def _keep_back(session: AsyncSession, report: Report, plan: Plan, hold: Hold, row: ReportSignoff,
                     decision: Decision, now: datetime) -> Plan:
    local = own_unit_chats(await unit_chain(session, report.unit_id))
    hold.held = [t for t in plan.targets if t.kind != "person" and t.chat_id not in local]
    row.due_at = now + timedelta(minutes=decision.minutes)
    if not hold.held:
        row.released_at = now   # nothing to wait for: the sign-off is still asked for
    kept = [t for t in plan.targets if t not in hold.held]
    return Plan(targets=kept, missing=plan.missing)


def own_unit_chats(chain: list[UnitNode]) -> set[int]:
    """Where the unit itself reads its reports: its groups, or the nearest ancestor's it falls through to."""
    holder = next((unit for unit in chain if unit.groups), None)
    return {chat_id for chat_id, _title in holder.groups} if holder else set()


async def ask_approvers(session: AsyncSession, report: Report, leaders: list[Member], round_: int,
                        default_locale: str) -> None:
    """Each approver privately: the report and the three choices."""
    for member in leaders:
        if not (member.active and member.started_bot):
            continue
        with i18n.use_locale(member.locale or default_locale):
            payload = {"text": request_text(report), "parse_mode": "HTML",
                       "reply_markup": request_keyboard(report.id).to_dict(),
                       **content_notice(report.reporter.telegram_id, report.reference)}
        await enqueue(session, f"report:{report.id}:signoff:{round_}:to:{member.telegram_id}", member.telegram_id,
                      payload, priority=Priority.URGENT if report.level <= Level.II else Priority.NORMAL)


def request_text(report: Report) -> str:
    head = _("✍️ <b>Sign-off requested</b> for report {reference} from {reporter}.").format(
        reference=esc(report.reference), reporter=esc(report.reporter.name))
    text = head + "\n\n" + render.render_card(report)
    return text if len(text) <= TELEGRAM_TEXT_LIMIT else head + "\n\n" + render.render_brief(report)


def request_keyboard(report_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_(label), callback_data=SignoffPress(step, report_id).pack())]
                                 for label, step in REQUEST_BUTTONS])


async def mark_late(session: AsyncSession, report: Report, rules: Rules, now: datetime) -> bool:
    """迟报: filed more than the level's allowance after the event; marked by the bot."""
    if not rules.signoff.is_late(report.level, report.occurred_at, now):
        return False
    minutes = int((now - report.occurred_at).total_seconds() // 60)
    session.add(ReportMark(report_id=report.id, kind="late", actor_telegram_id=None, actor_name="", at=now,
                           reason=str(minutes), result="", resolved_by_name=""))
    return True
