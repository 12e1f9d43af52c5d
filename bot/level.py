"""A report's level (等级): I (特别重大, red) is the highest and IV (一般, blue) the lowest.

Stored as 1..4 (storage/types.py `LevelType` gives a `Level` back), so "higher" means a
smaller number. Levels I and II are urgent (快报): their cards go first and say so, they
are listed in the 17:00 summary while open. This module is a leaf (it imports only the
translations) so that storage, the domain and the handlers can all use it.
"""

from __future__ import annotations

import enum

from bot.i18n import N_, _


class Level(enum.IntEnum):
    I = 1      # noqa: E741 — the scale's own name
    II = 2
    III = 3
    IV = 4

    @classmethod
    def urgent_ones(cls) -> tuple[Level, ...]:
        """The urgent levels, for queries (`Report.level.in_(Level.urgent_ones())`)."""
        return tuple(level for level in cls if level.urgent)

    @property
    def urgent(self) -> bool:
        """快报: a level I–II item goes up at once, first in the queue, and says so."""
        return self <= Level.II

    @property
    def roman(self) -> str:
        return self.name

    @property
    def emoji(self) -> str:
        return LEVEL_EMOJI[self]

    @property
    def colour(self) -> str:
        """The colour's name in the current language (red, orange, yellow, blue)."""
        return _(LEVEL_COLOURS[self])

    def title(self) -> str:
        """"Level II · major (orange)", in the current language."""
        return _("Level {roman} · {name} ({colour})").format(
            roman=self.roman, name=_(LEVEL_NAMES[self]), colour=self.colour)

    def label(self) -> str:
        """The title with the level's coloured emoji in front."""
        return f"{self.emoji} {self.title()}"

    def short_label(self) -> str:
        """"🟠 II · major", for buttons."""
        return _("{emoji} {roman} · {name}").format(emoji=self.emoji, roman=self.roman, name=_(LEVEL_NAMES[self]))


LEVEL_EMOJI = {Level.I: "🔴", Level.II: "🟠", Level.III: "🟡", Level.IV: "🔵"}
LEVEL_NAMES = {Level.I: N_("especially major"), Level.II: N_("major"),
               Level.III: N_("relatively major"), Level.IV: N_("general")}
LEVEL_COLOURS = {Level.I: N_("red"), Level.II: N_("orange"), Level.III: N_("yellow"), Level.IV: N_("blue")}
