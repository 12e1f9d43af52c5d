"""Reporting days, due times and the daily-cycle settings: plain rules, no database."""

from __future__ import annotations

from datetime import date, time

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, parse_clock_time, parse_quota_by_kind, parse_weekly_at
from bot.daily.schedule import Period, Schedule, covered_week, is_workday
from bot.daily.scheduler import due_slots, slots_of_day
from tests.support.daily_factories import daily_settings, local

NATIONAL_DAY = Period("国庆", date(2025, 10, 1), date(2025, 10, 8), "08:30")


def schedule(mode: str = "every_day", *periods: Period, **settings) -> Schedule:
    return Schedule.from_settings(daily_settings(reporting_days=mode, **settings), periods)


class TestReportingDays:
    def test_the_calendar_package_knows_the_2025_national_day_and_its_make_up_day(self):
        assert not chinese_calendar.is_workday(date(2025, 10, 1))
        assert chinese_calendar.is_workday(date(2025, 9, 28))   # a Sunday, worked for the holiday
        assert date(2025, 9, 28).weekday() == 6

    @pytest.mark.parametrize("mode, day, expected", [
        ("every_day", "2025-10-01", True),      # holiday, but every day counts
        ("every_day", "2025-10-04", True),      # Saturday
        ("working_days", "2025-10-01", False),  # National Day
        ("working_days", "2025-10-04", False),  # Saturday inside the holiday
        ("working_days", "2025-09-28", True),   # Sunday made a working day (调休)
        ("working_days", "2025-10-11", True),   # Saturday made a working day
        ("working_days", "2025-10-09", True),   # ordinary Thursday
        ("working_days", "2025-10-12", False),  # ordinary Sunday
    ])
    def test_mode_and_calendar(self, mode, day, expected):
        assert schedule(mode).is_reporting_day(date.fromisoformat(day)) is expected

    def test_a_sensitive_period_makes_every_day_count(self):
        strict = schedule("working_days", NATIONAL_DAY)
        assert strict.is_reporting_day(date(2025, 10, 1))
        assert strict.is_reporting_day(date(2025, 10, 5))
        assert not strict.is_reporting_day(date(2025, 10, 12))   # after the period: a Sunday again

    def test_past_the_published_calendar_weekdays_count(self):
        monday = date(2199, 1, 7)   # the package has no data for 2199
        assert monday.weekday() == 0
        assert is_workday(monday) and not is_workday(date(2199, 1, 6))

    def test_previous_reporting_day_skips_the_holiday(self):
        assert schedule("working_days").previous_reporting_day(date(2025, 10, 9)) == date(2025, 9, 30)
        assert schedule("every_day").previous_reporting_day(date(2025, 10, 9)) == date(2025, 10, 8)


class TestDueTimes:
    def test_times_are_in_the_bot_zone(self):
        plan = schedule()
        assert plan.deadline_at(date(2025, 10, 9)) == local("2025-10-09", "17:00")
        assert plan.reminder_at(date(2025, 10, 9)) == local("2025-10-09", "16:00")
        assert plan.deadline_at(date(2025, 10, 9)).hour == 9   # 17:00 Beijing is 09:00 UTC

    @pytest.mark.parametrize("clock, late", [("16:59", False), ("17:00", False), ("17:01", True), ("23:59", True)])
    def test_late_after_the_deadline(self, clock, late):
        assert schedule().is_late(date(2025, 10, 9), local("2025-10-09", clock)) is late

    def test_nothing_is_late_on_a_day_off(self):
        assert not schedule("working_days").is_late(date(2025, 10, 1), local("2025-10-01", "20:00"))

    def test_check_in_only_inside_a_period(self):
        plan = schedule("every_day", NATIONAL_DAY, Period("两会", date(2025, 10, 5), date(2025, 10, 6), "07:45"))
        assert plan.check_in_at(date(2025, 10, 2)) == local("2025-10-02", "08:30")
        assert plan.check_in_at(date(2025, 10, 5)) == local("2025-10-05", "07:45")   # the earliest wins
        assert plan.check_in_at(date(2025, 10, 9)) is None

    def test_weekly_summary_covers_the_week_before(self):
        assert covered_week(date(2025, 10, 13)) == (date(2025, 10, 6), date(2025, 10, 12))
        plan = schedule()
        assert [s.job for s in slots_of_day(plan, date(2025, 10, 13))] == ["weekly", "reminder", "deadline"]


class TestDueSlots:
    def jobs(self, plan: Schedule, day: str, clock: str) -> list[str]:
        return [f"{s.job}:{s.day}" for s in due_slots(plan, local(day, clock), since=local("2025-01-01", "00:00"))]

    def test_nothing_before_the_first_run_of_all(self):
        assert self.jobs(schedule(), "2025-10-09", "16:00")[-1] == "reminder:2025-10-09"
        since = local("2025-10-09", "15:00")
        assert [s.job for s in due_slots(schedule(), local("2025-10-09", "16:00"), since)] == ["reminder"]

    def test_a_holiday_has_no_runs_in_working_days_mode(self):
        assert self.jobs(schedule("working_days"), "2025-10-01", "23:00") == [
            "weekly:2025-09-29", "reminder:2025-09-29", "deadline:2025-09-29",
            "reminder:2025-09-30", "deadline:2025-09-30"]

    def test_the_make_up_working_day_has_its_runs(self):
        assert "deadline:2025-09-28" in self.jobs(schedule("working_days"), "2025-09-28", "17:00")

    def test_a_sensitive_period_adds_the_runs_and_a_check_in(self):
        jobs = self.jobs(schedule("working_days", NATIONAL_DAY), "2025-10-02", "09:00")
        assert jobs[-1] == "checkin:2025-10-02" and "deadline:2025-10-01" in jobs

    def test_restart_at_17_05_finds_the_reminder_stale_and_the_summary_due(self):
        now = local("2025-10-09", "17:05")
        today = {s.job: s for s in due_slots(schedule(), now)}
        assert now >= today["reminder"].stale_at
        assert now < today["deadline"].stale_at


class TestSettings:
    @given(st.integers(0, 23), st.integers(0, 59))
    def test_any_clock_time_round_trips(self, hours, minutes):
        assert parse_clock_time(f"{hours}:{minutes:02d}") == time(hours, minutes)
        assert parse_clock_time(f"{hours:02d}:{minutes:02d}") == time(hours, minutes)

    @given(st.text(max_size=8))
    def test_anything_else_is_refused_or_a_valid_time(self, text):
        try:
            parsed = parse_clock_time(text)
        except ValueError:
            return
        assert parsed.strftime("%H:%M") == f"{int(text.split(':')[0]):02d}:{text.split(':')[1]}"

    @pytest.mark.parametrize("raw, expected", [("Monday 09:00", (0, time(9))), ("sun 20:30", (6, time(20, 30))),
                                               ("FRIDAY 8:05", (4, time(8, 5)))])
    def test_weekly_at(self, raw, expected):
        assert parse_weekly_at(raw) == expected

    @pytest.mark.parametrize("raw", ["Moonday 09:00", "Monday", "09:00 Monday", "Mon 9am"])
    def test_weekly_at_refused(self, raw):
        with pytest.raises(ValueError):
            parse_weekly_at(raw)

    def test_quotas_by_kind(self):
        assert parse_quota_by_kind("county:10, street:5") == {"county": 10, "street": 5}
        settings = daily_settings(weekly_quota_by_kind="county:10,street:5", weekly_quota_default=3)
        assert (settings.weekly_quota("county"), settings.weekly_quota("community")) == (10, 3)

    @pytest.mark.parametrize("overrides, setting", [
        ({"daily_reminder_time": "18:00"}, "settings"),
        ({"daily_deadline_time": "5pm"}, "DAILY_DEADLINE_TIME"),
        ({"reporting_days": "weekdays"}, "REPORTING_DAYS"),
        ({"weekly_quota_by_kind": "county=10"}, "WEEKLY_QUOTA_BY_KIND"),
        ({"weekly_quota_default": "-1"}, "WEEKLY_QUOTA_DEFAULT"),
    ])
    def test_wrong_settings_name_themselves(self, overrides, setting):
        with pytest.raises(ConfigError) as error:
            daily_settings(**overrides)
        assert error.value.setting == setting
