"""The sandbox's movable clock: real time plus an offset that only grows.

The bot reads it through `application.bot_data["clock"]` (bot/clock.py), so reminders,
summaries and case deadlines follow it. It starts at 09:00 on today's date in the bot's time
zone, so a fresh sandbox always has the 16:00 reminder and the 17:00 summary ahead of it.
It never goes back: the daily cycle records each run once, and a run in the past would be
a run that already happened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.types import utcnow

START_OF_DAY = time(9, 0)


class SandboxClock:
    """Aware UTC datetimes; `jump_to`, `next_day` and `advance` move it forward."""

    def __init__(self, tz: ZoneInfo, real: Callable[[], datetime] = utcnow) -> None:
        self.tz, self.real = tz, real
        today = real().astimezone(tz).date()
        self.offset = datetime.combine(today, START_OF_DAY, tz) - real()

    def __call__(self) -> datetime:
        return self.real() + self.offset

    def local(self) -> datetime:
        return self().astimezone(self.tz)

    def advance(self, delta: timedelta) -> None:
        if delta > timedelta(0):
            self.offset += delta

    def jump_to(self, at: time) -> None:
        """To the next `at` o'clock: today's if still ahead, else tomorrow's."""
        now = self.local()
        target = datetime.combine(now.date(), at, self.tz)
        if target <= now:
            target = datetime.combine(now.date() + timedelta(days=1), at, self.tz)
        self.advance(target - now)

    def next_day(self) -> None:
        """To 09:00 of the next day."""
        now = self.local()
        self.advance(datetime.combine(now.date() + timedelta(days=1), START_OF_DAY, self.tz) - now)
