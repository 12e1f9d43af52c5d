"""How sign-off, versions and marks read on a card, on the receipt and in /case.

`Standing` is plain data loaded once per refresh; its lines are chosen in the language in
use when the card is rendered, so one load serves every copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, _, format_datetime
from bot.signoff import store
from bot.textutil import esc
from storage.models import ReportSignoff, ReportVersion

FIELD_NAMES = {
    "title": N_("title"), "description": N_("what happened"), "place": N_("place"),
    "people": N_("people involved"), "measures": N_("measures taken"), "needs": N_("needs"),
    "level": N_("level"),
}
MARK_NAMES = {
    "verify": N_("🔎 To be verified"), "false": N_("⛔ False report"), "concealed": N_("🙈 Concealed report"),
    "late": N_("⏱ Late report"), "lifted": N_("🟢 Warning lifted"),
}


@dataclass(frozen=True)
class Standing:
    """What the card shows besides the report: the approver, the version, the marks."""

    mode: str | None = None                 # hold, flash, or None (no sign-off asked)
    state: str | None = None                # waiting, returned, signed
    approvers: tuple[str, ...] = ()
    signed_by: str = ""
    signed_at: datetime | None = None
    lapsed: bool = False
    version: int = 1
    marks: tuple[str, ...] = ()             # kinds still standing, in order

    def lines(self) -> list[str]:
        lines = [self.signoff_line()] if self.mode else []
        if self.version > 1:
            lines.append(_("✏️ Corrected (version {number})").format(number=self.version))
        lines += [_(MARK_NAMES[kind]) for kind in self.marks if kind in MARK_NAMES]
        return lines

    def signoff_line(self) -> str:
        if self.state == "signed":
            return _("✍️ Approver: {name}, signed off {time}").format(
                name=esc(self.signed_by), time=format_datetime(self.signed_at, "short"))
        names = esc(_(", ").join(self.approvers)) or _("no leader found")
        if self.lapsed:
            return _("✍️ Not signed off (approver: {names})").format(names=names)
        if self.mode == "flash":
            return _("✍️ Sign-off pending (approver: {names})").format(names=names)
        if self.state == "returned":
            return _("✍️ Sent back to add missing details (approver: {names})").format(names=names)
        return _("✍️ Waiting for sign-off (approver: {names})").format(names=names)


async def standing(session: AsyncSession, report_id: int) -> Standing:
    row = await store.signoff(session, report_id)
    kinds = [m.kind for m in await store.marks(session, report_id) if m.kind != "verify" or m.resolved_at is None]
    version = await store.current_version(session, report_id)
    if row is None:
        return Standing(version=version, marks=tuple(dict.fromkeys(kinds)))
    return Standing(row.mode, row.state, await approver_names(session, row), row.signed_by_name, row.signed_at,
                    row.lapsed, version, tuple(dict.fromkeys(kinds)))


async def approver_names(session: AsyncSession, row: ReportSignoff) -> tuple[str, ...]:
    if row.approver_unit_id is None:
        return ()
    return tuple(member.name for member in await store.unit_leaders(session, row.approver_unit_id))


def change_text(version: ReportVersion) -> str:
    """"v2 · 10:05 王主任: people involved 2 → 5; reason" (HTML)."""
    changes = _("; ").join(
        f"{_(FIELD_NAMES.get(name, name))} {esc(_short(old))} → {esc(_short(new))}"
        for name, (old, new) in (version.changes or {}).items())
    text = _("Version {number} · {time} {author}: {changes}").format(
        number=version.number, time=format_datetime(version.at, "short"), author=esc(version.author_name),
        changes=changes or "—")
    return text + (_(" (reason: {reason})").format(reason=esc(version.reason)) if version.reason else "")


def _short(value, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def versions_lines(versions: list[ReportVersion]) -> list[str]:
    """For /case: every version after the first, with what changed."""
    if not versions:
        return []
    return ["", _("<b>Versions</b>"), *map(change_text, versions)]
