"""What a card says about where the case stands besides its status: which reports it has
had (首报, 续报, 终报), who has acknowledged it per unit, who is asked to the scene, and the
contingency plan decision. Read from the case's events and receipts when the card is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import acks, views
from bot.i18n import _
from storage.models import CaseEvent, Report

PLAN_LEVELS = 2   # levels I and II decide on the contingency plan


@dataclass
class Stages:
    followups: int = 0
    final: bool = False
    notes: list[str] = field(default_factory=list)
    received_by: list[str] = field(default_factory=list)


def from_events(report: Report, events: list[CaseEvent]) -> Stages:
    """Follow-ups counted, the final report, and the scene and plan lines."""
    kinds = [event.kind for event in events]
    stages = Stages(followups=kinds.count("followup"), final="final" in kinds)
    asked = [e for e in events if e.kind == "scene_ask" and (e.details or {}).get("level") == report.level]
    if asked and "arrive" not in kinds and report.status not in ("closed", "merged", "rejected"):
        details = asked[-1].details
        stages.notes.append("📍 " + _("Asked to the scene: {person} ({duty}), within {duration}").format(
            person=details.get("person", ""), duty=views.duty_name(details.get("duty", "")),
            duration=views.duration(int(details.get("minutes", 0)))))
    if report.level <= PLAN_LEVELS:
        plan = next((e for e in reversed(events) if e.kind == "plan"), None)
        stages.notes.append("📋 " + (_("Contingency plan: {plan} ({actor})").format(
            plan=_(views.PLAN_SCALES.get((plan.details or {}).get("scale"), views.PLAN_SCALES[0])),
            actor=plan.actor_name) if plan else _("Contingency plan: no decision yet")))
    return stages


async def stages_of(session: AsyncSession, report: Report, events: list[CaseEvent]) -> Stages:
    stages = from_events(report, events)
    pressed = await acks.receipts(session, report.id)
    stages.received_by = [name for _person, _chat, name in pressed]
    line = acks.line(await acks.copies(session, report.id, pressed))
    if line:
        stages.notes.insert(0, line)
    return stages
