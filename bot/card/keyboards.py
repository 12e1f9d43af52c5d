"""The card's buttons, and the follow-up button under the reporter's receipt.

Every button's data is a `bot.callbacks` class; the case handlers and the adoption
handlers take the presses.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import AdoptionPress, AdoptionStep, CasePress, CaseStep
from bot.cases.machine import FINAL, MACHINE, Action
from bot.i18n import N_, _
from storage.models import Report

LABELS = {
    CaseStep.RECEIVE: N_("✅ Acknowledge"), CaseStep.ASSIGN: N_("👤 Assign"), CaseStep.ASK: N_("⏰ Ask for update"),
    CaseStep.CLOSE: N_("🏁 Close"), CaseStep.ON_SCENE: N_("📍 On scene"), CaseStep.RESOLVE: N_("✔️ Resolved"),
    CaseStep.REJECT: N_("✖️ Not an incident"), CaseStep.ACCEPT: N_("👍 Accept"), CaseStep.FOLLOW_UP: N_("📝 Follow-up"),
    CaseStep.DETAILS: N_("🔍 Details"), CaseStep.FINAL_REPORT: N_("📄 Final report"),
    CaseStep.PLAN: N_("📋 Contingency plan"), CaseStep.BRING_BACK: N_("↩️ Brought back"),
}
# Petitions that reached these levels are brought back (劝返) within a deadline.
BRING_BACK_REACH = ("city", "province", "beijing")
# For leaders of a unit above the reporting unit (bot.cases.adoption; handlers/adoption.py).
ADOPTION_LABELS = {AdoptionStep.ADOPT: N_("📌 Adopt"), AdoptionStep.INSTRUCT: N_("✍️ Instruction")}
# The third row appears when its steps are possible in the case's status.
OPTIONAL = (CaseStep.ON_SCENE, CaseStep.RESOLVE, CaseStep.REJECT)


def button(step: CaseStep, report_id: int, label: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(label or _(LABELS[step]), callback_data=CasePress(step, report_id).pack())


def adoption_row(report_id: int) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(_(label), callback_data=AdoptionPress(step, report_id).pack())
            for step, label in ADOPTION_LABELS.items()]


def card_keyboard(report: Report, *, brief: bool = False, first: bool = False,
                  steps: list | None = None) -> InlineKeyboardMarkup | None:
    """The card's buttons for the case's current status (Acknowledge, Assign, Ask for update,
    Close, the possible next steps, the adoption row); none once it is finished (but Details
    on a brief card). The `first` card, as filed, shows no next steps yet. `steps`: rows of a
    kind of case's own steps (public opinion, bot.opinion.card)."""
    details = [[button(CaseStep.DETAILS, report.id)]] if brief else []
    if report.status in FINAL:
        return InlineKeyboardMarkup(details) if details else None
    # 办结 once the final report is in; until then the final report (终报).
    ending = CaseStep.CLOSE if MACHINE.allowed(report.status, Action.CLOSE) else CaseStep.FINAL_REPORT
    rows = [[button(CaseStep.RECEIVE, report.id), button(CaseStep.ASSIGN, report.id)],
            [button(CaseStep.ASK, report.id), button(ending, report.id)]]
    optional = [] if first else [button(step, report.id) for step in OPTIONAL
                                 if MACHINE.allowed(report.status, step.action)]
    records = [button(step, report.id) for step in record_buttons(report)]
    return InlineKeyboardMarkup(rows + [row for row in (optional, records) if row] + (steps or [])
                                + [adoption_row(report.id)] + details)


def record_buttons(report: Report) -> list[CaseStep]:
    """The contingency plan (levels I–II) and bringing petitioners back (city, province)."""
    steps = [CaseStep.PLAN] if report.level <= 2 else []
    if report.category in ("petition", "collective_petition") and (report.extra or {}).get("reach") in BRING_BACK_REACH:
        steps.append(CaseStep.BRING_BACK)
    return steps


def receipt_keyboard(report_id: int) -> InlineKeyboardMarkup:
    """Under the reporter's receipt: add a follow-up, or send the final report."""
    return InlineKeyboardMarkup([[button(CaseStep.FOLLOW_UP, report_id), button(CaseStep.FINAL_REPORT, report_id)]])
