"""The timeline's words for the public-opinion steps and the evaluation; bot.cases.views
shows them on cards and in /case. (No imports beyond i18n: the case views load this.)"""

from __future__ import annotations

from bot.i18n import N_

EVENTS = {
    "op_monitor": N_("{actor} added a monitoring note: {reason}"),
    "op_consult": N_("Consultation (会商), {actor}: {reason}"),
    "op_draft": N_("{actor} drafted the unified statement (通稿)"),
    "op_approve": N_("{actor} approved the unified statement (通稿)"),
    "op_reply": N_("Public reply recorded by {actor}: {reason}"),
    "op_subside": N_("{actor} marked it subsided (已平息): {reason}"),
    "evaluate": N_("{actor} filed the evaluation (总结评估)"),
    "evaluate_late": N_("The evaluation (总结评估) is overdue; escalated to {unit}"),
}
