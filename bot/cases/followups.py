"""Follow-ups (续报): text, photos and a changed number of people, from the reporter or the
assignee. More people can raise the level: the case is re-graded by the report rules and
pushed to the groups the new level reaches. Each follow-up is posted under every card."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.card import copies
from bot.card import send as cards
from bot.cases import deadlines, regrade, store, views
from bot.cases.service import Result, begin
from bot.cases.store import Actor
from bot.config import Settings
from bot.i18n import _
from bot.textutil import TELEGRAM_TEXT_LIMIT, esc, split_message, utf16_len
from storage.models import FollowUp, Priority, Report
from storage.outbox import content_notice

MEDIA_GROUP_MAX = 10
# Room for the text in each part of a long follow-up, below 4,096 with the header and the
# people/level lines (the author's name alone may take 128).
PART_BODY = 3600


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


def followup_text(report: Report, followup: FollowUp, *, brief: bool = False) -> str:
    """The whole follow-up as one text (it may be longer than a message: see followup_parts)."""
    return "\n".join([followup_header(report, followup), *([] if brief or not followup.text else [esc(followup.text)]),
                      *change_lines(followup)])


def followup_header(report: Report, followup: FollowUp, part: int = 0, parts: int = 1) -> str:
    header = "📝 " + _("<b>Follow-up {number}</b> to {reference} from {author}").format(
        number=followup.number, reference=esc(report.reference), author=esc(followup.author_name))
    return header + (" " + _("(part {part} of {parts})").format(part=part, parts=parts) if parts > 1 else "")


def followup_parts(report: Report, followup: FollowUp, *, brief: bool = False) -> list[str]:
    """The follow-up in messages that each fit Telegram's limit, every one with the header;
    the text is cut at line boundaries (or between characters in a very long line)."""
    if brief or utf16_len(followup_text(report, followup)) <= TELEGRAM_TEXT_LIMIT:
        return [followup_text(report, followup, brief=brief)]
    pieces = split_message(followup.text, PART_BODY, measure=utf16_len)
    texts = [followup_header(report, followup, n, len(pieces)) + "\n" + esc(piece)
             for n, piece in enumerate(pieces, start=1)]
    texts[-1] = "\n".join([texts[-1], *change_lines(followup)])
    return texts


def change_lines(followup: FollowUp) -> list[str]:
    lines = []
    if followup.people_after != followup.people_before:
        lines.append(_("People involved: {before} → {after}").format(
            before=followup.people_before, after=followup.people_after))
    if followup.level_after != followup.level_before:
        lines.append("⚠️ " + _("Level raised from {old} to {new}").format(
            old=views.level_name(followup.level_before), new=views.level_name(followup.level_after)))
    return lines


async def post(session: AsyncSession, report: Report, followup: FollowUp, settings: Settings) -> None:
    """The follow-up as a reply under each card, its photos as a reply after it."""
    notify = content_notice(followup.author_telegram_id, report.reference)
    chats = list(await copies.card_keys(session, report.id))
    brief = [chat for chat in chats if cards.brief_in(chat, settings)]   # the text is for Details
    full = [chat for chat in chats if chat not in brief]
    stem = f"report:{report.id}:fup:{followup.number}"
    for chat_ids, short in ((full, False), (brief, True)):
        with i18n.use_locale(settings.default_locale):
            texts = followup_parts(report, followup, brief=short)
        for index, text in enumerate(texts):
            payload = {"text": text, "parse_mode": "HTML", **notify}
            await cards.reply_to_cards(session, report, stem if not index else f"{stem}:part:{index + 1}", payload,
                                       priority=Priority.NORMAL, chats=chat_ids)
    for index in range(0, len(followup.photos), MEDIA_GROUP_MAX):
        chunk = followup.photos[index : index + MEDIA_GROUP_MAX]
        caption = f"{report.reference} · {followup.number}"
        if len(chunk) == 1:
            method, photos = "sendPhoto", {"photo": chunk[0], "caption": caption}
        else:
            method = "sendMediaGroup"
            photos = {"media": [{"type": "photo", "media": p, **({"caption": caption} if not i else {})}
                                for i, p in enumerate(chunk)]}
        await cards.reply_to_cards(session, report, f"{stem}:photos:{index // MEDIA_GROUP_MAX}", {**photos, **notify},
                                   method=method, priority=Priority.NORMAL, chats=full)
