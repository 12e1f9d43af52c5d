"""What an import changed: counts, and one translated line per change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bot.i18n import _, ngettext


@dataclass
class OrgChanges:
    units_created: int = 0
    units_updated: int = 0
    units_moved: int = 0
    members_created: int = 0
    members_updated: int = 0
    members_deactivated: int = 0
    memberships_added: int = 0
    memberships_removed: int = 0
    roles_changed: int = 0
    groups_bound: int = 0
    groups_moved: int = 0
    duty_set: int = 0
    quotas_set: int = 0
    periods_created: int = 0
    periods_updated: int = 0
    tasks_set: int = 0
    lines: list[str] = field(default_factory=list)  # one translated line per change, in order

    def note(self, counter: str, line: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        self.lines.append(line)

    def counts(self) -> dict[str, int]:
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "lines"
        }

    def __bool__(self) -> bool:
        return any(self.counts().values())

    def summary(self) -> str:
        if not self:
            return _("No changes: the database already matches the file.")
        total = sum(self.counts().values())
        return "\n".join(
            [
                ngettext("{count} change:", "{count} changes:", total).format(count=total),
                _("Units: {created} created, {updated} updated, {moved} moved").format(
                    created=self.units_created, updated=self.units_updated, moved=self.units_moved
                ),
                _("Members: {created} created, {updated} updated").format(
                    created=self.members_created, updated=self.members_updated
                ),
                *([_("Members deactivated (in no unit any more): {count}").format(
                    count=self.members_deactivated)] if self.members_deactivated else []),
                _("Memberships: {added} added, {removed} removed, {changed} changed role").format(
                    added=self.memberships_added,
                    removed=self.memberships_removed,
                    changed=self.roles_changed,
                ),
                _("Group chats: {bound} bound, {moved} moved").format(
                    bound=self.groups_bound, moved=self.groups_moved
                ),
                *self._daily_lines(),
                *([_("Duty days set: {count}").format(count=self.duty_set)] if self.duty_set else []),
            ]
        )

    def _daily_lines(self) -> list[str]:
        """Quotas and sensitive periods, only when the import touched them."""
        lines = []
        if self.quotas_set:
            lines.append(_("Weekly quotas: {count} set").format(count=self.quotas_set))
        if self.periods_created or self.periods_updated:
            lines.append(_("Sensitive periods: {created} created, {updated} updated").format(
                created=self.periods_created, updated=self.periods_updated))
        return lines
