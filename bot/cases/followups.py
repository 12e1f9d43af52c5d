"""Follow-ups (续报): text, photos and a changed number of people, from the reporter or the
assignee. More people can raise the level: the case is re-graded by the report rules and
pushed to the groups the new level reaches. Each follow-up is posted under every card."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.cases import cards, deadlines, regrade, store, views
from bot.cases.service import Result, begin
from bot.cases.store import Actor
from bot.config import Settings
from bot.i18n import _
from bot.textutil import esc
from storage.models import FollowUp, Priority, Report

MEDIA_GROUP_MAX = 10


@dataclass
class FollowUpInput:
    text: str = ""
    photos: list[str] = field(default_factory=list)   # Telegram file ids
    people: int | None = None                          # None: unchanged


async def add_followup(session: AsyncSession, report_id: int, actor: Actor, data: FollowUpInput, *,
                       settings: Settings, now: datetime) -> Result:
    """Store the follow-up, re-grade on more people, post it under every card, edit the cards."""
    result = await begin(session, report_id, actor, "followup", chat_id=None, settings=settings, now=now)
    if result.refusal:
        return result
    report, case = result.report, result.case
    followup = FollowUp(report_id=report.id, number=await store.next_followup_number(session, report.id),
                        author_telegram_id=actor.telegram_id, author_name=actor.name[:128], at=now,
                        text=data.text, photos=list(data.photos), people_before=report.people,
                        people_after=report.people if data.people is None else data.people,
                        level_before=report.level, level_after=report.level)
    report.people = followup.people_after
    await store.record(session, report, "followup", actor, now, reason=data.text, number=followup.number,
                       people_before=followup.people_before, people_after=followup.people_after)
    followup.level_after = await regrade.regrade(session, report, case, actor, settings, now)
    session.add(followup)
    await deadlines.after_step(session, report, "followup", settings, now)
    await post(session, report, followup, settings)
    await cards.refresh_cards(session, report, case, settings)
    return result


def followup_text(report: Report, followup: FollowUp) -> str:
    lines = ["📝 " + _("<b>Follow-up {number}</b> to {reference} from {author}").format(
        number=followup.number, reference=esc(report.reference), author=esc(followup.author_name))]
    if followup.text:
        lines.append(esc(followup.text))
    if followup.people_after != followup.people_before:
        lines.append(_("People involved: {before} → {after}").format(
            before=followup.people_before, after=followup.people_after))
    if followup.level_after != followup.level_before:
        lines.append("⚠️ " + _("Level raised from {old} to {new}").format(
            old=views.level_name(followup.level_before), new=views.level_name(followup.level_after)))
    return "\n".join(lines)


async def post(session: AsyncSession, report: Report, followup: FollowUp, settings: Settings) -> None:
    """The follow-up as a reply under each card, its photos as a reply after it."""
    with i18n.use_locale(settings.default_locale):
        payload = {"text": followup_text(report, followup), "parse_mode": "HTML"}
    stem = f"report:{report.id}:fup:{followup.number}"
    await cards.reply_to_cards(session, report, stem, payload, priority=Priority.NORMAL)
    for index in range(0, len(followup.photos), MEDIA_GROUP_MAX):
        chunk = followup.photos[index : index + MEDIA_GROUP_MAX]
        caption = f"{report.reference} · {followup.number}"
        if len(chunk) == 1:
            method, photos = "sendPhoto", {"photo": chunk[0], "caption": caption}
        else:
            method = "sendMediaGroup"
            photos = {"media": [{"type": "photo", "media": p, **({"caption": caption} if not i else {})}
                                for i, p in enumerate(chunk)]}
        await cards.reply_to_cards(session, report, f"{stem}:photos:{index // MEDIA_GROUP_MAX}", photos,
                                   method=method, priority=Priority.NORMAL)
