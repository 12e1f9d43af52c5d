"""The card's buttons, and the follow-up button under the reporter's receipt.

Every button's data is a `bot.callbacks` class; the case handlers and the adoption
handlers take the presses.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import AdoptionPress, AdoptionStep, CasePress, CaseStep
from bot.cases.machine import FINAL, MACHINE
from bot.i18n import N_, _
from storage.models import Report

LABELS = {
    CaseStep.RECEIVE: N_("✅ Acknowledge"), CaseStep.ASSIGN: N_("👤 Assign"), CaseStep.ASK: N_("⏰ Ask for update"),
    CaseStep.CLOSE: N_("🏁 Close"), CaseStep.ON_SCENE: N_("📍 On scene"), CaseStep.RESOLVE: N_("✔️ Resolved"),
    CaseStep.REJECT: N_("✖️ Not an incident"), CaseStep.ACCEPT: N_("👍 Accept"), CaseStep.FOLLOW_UP: N_("📝 Follow-up"),
    CaseStep.DETAILS: N_("🔍 Details"),
}
# For leaders of a unit above the reporting unit (bot.cases.adoption; handlers/adoption.py).
ADOPTION_LABELS = {AdoptionStep.ADOPT: N_("📌 Adopt"), AdoptionStep.INSTRUCT: N_("✍️ Instruction")}
# The third row appears when its steps are possible in the case's status.
OPTIONAL = (CaseStep.ON_SCENE, CaseStep.RESOLVE, CaseStep.REJECT)


def button(step: CaseStep, report_id: int, label: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(label or _(LABELS[step]), callback_data=CasePress(step, report_id).pack())


def adoption_row(report_id: int) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(_(label), callback_data=AdoptionPress(step, report_id).pack())
            for step, label in ADOPTION_LABELS.items()]


def card_keyboard(report: Report, *, brief: bool = False, first: bool = False) -> InlineKeyboardMarkup | None:
    """The card's buttons for the case's current status (Acknowledge, Assign, Ask for update,
    Close, the possible next steps, the adoption row); none once it is finished (but Details
    on a brief card). The `first` card, as filed, shows no next steps yet."""
    details = [[button(CaseStep.DETAILS, report.id)]] if brief else []
    if report.status in FINAL:
        return InlineKeyboardMarkup(details) if details else None
    rows = [[button(CaseStep.RECEIVE, report.id), button(CaseStep.ASSIGN, report.id)],
            [button(CaseStep.ASK, report.id), button(CaseStep.CLOSE, report.id)]]
    optional = [] if first else [button(step, report.id) for step in OPTIONAL
                                 if MACHINE.allowed(report.status, step.action)]
    return InlineKeyboardMarkup(rows + ([optional] if optional else []) + [adoption_row(report.id)] + details)


def receipt_keyboard(report_id: int) -> InlineKeyboardMarkup:
    """Under the reporter's receipt: add a follow-up."""
    return InlineKeyboardMarkup([[button(CaseStep.FOLLOW_UP, report_id)]])
