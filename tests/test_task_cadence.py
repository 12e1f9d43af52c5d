"""Cadences and deadlines of reporting tasks: plain functions, with the Chinese holiday calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.daily.schedule import is_workday
from bot.tasks.cadence import (
    LAST,
    Cadence,
    CadenceError,
    due_dates,
    every_day,
    format_cadence,
    nth_reporting_day_after,
    parse_cadence,
)
from bot.tasks.spec import QuestionError, Scope, parse_number, parse_question

DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))
CADENCES = st.one_of(
    st.builds(lambda d: Cadence("once", on=d), DAYS),
    st.builds(lambda d, n: Cadence("every", on=d, every=n), DAYS, st.integers(1, 30)),
    st.builds(lambda w: Cadence("weekly", weekday=w), st.integers(0, 6)),
    st.builds(lambda days: Cadence("monthly", days=tuple(sorted(set(days)))), st.lists(st.integers(0, 31), min_size=1, max_size=3)),
    st.builds(lambda m, d: Cadence("yearly", month_day=(m, d)), st.integers(1, 12), st.integers(1, 28)),
)


class TestRollUpAcrossHolidays:
    def test_three_days_across_month_end_and_national_day(self):
        # 2025: 1–8 October are holidays, Sunday 28 September and Saturday 11 October make-up days.
        roll_up = Cadence("every", on=date(2025, 9, 26), every=3)
        dates = due_dates(roll_up, date(2025, 9, 1), date(2025, 10, 20), is_workday)
        assert dates == [date(2025, 9, 26), date(2025, 9, 29), date(2025, 10, 9), date(2025, 10, 13),
                         date(2025, 10, 16), date(2025, 10, 20)]

    def test_every_day_counts_calendar_days(self):
        roll_up = Cadence("every", on=date(2025, 9, 26), every=3)
        assert due_dates(roll_up, date(2025, 9, 27), date(2025, 10, 6)) == [
            date(2025, 9, 29), date(2025, 10, 2), date(2025, 10, 5)]


class TestStageDeadlines:
    @pytest.mark.parametrize(("ended", "days", "due"), [
        (date(2025, 9, 30), 1, date(2025, 10, 9)),   # before National Day: the first working day after
        (date(2025, 9, 30), 2, date(2025, 10, 10)),
        (date(2025, 10, 10), 1, date(2025, 10, 11)),  # Friday → the make-up Saturday
        (date(2025, 10, 10), 2, date(2025, 10, 13)),
    ])
    def test_working_days(self, ended, days, due):
        assert nth_reporting_day_after(ended, days, is_workday) == due

    def test_every_day_mode(self):
        assert nth_reporting_day_after(date(2025, 9, 30), 2) == date(2025, 10, 2)


class TestNominalDates:
    @pytest.mark.parametrize(("text", "first", "last", "expected"), [
        ("monthly last", date(2025, 1, 1), date(2025, 3, 31), [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)]),
        ("monthly 15,last", date(2025, 2, 1), date(2025, 2, 28), [date(2025, 2, 15), date(2025, 2, 28)]),
        ("yearly 12-20", date(2024, 1, 1), date(2025, 12, 31), [date(2024, 12, 20), date(2025, 12, 20)]),
        ("weekly monday", date(2025, 10, 1), date(2025, 10, 14), [date(2025, 10, 6), date(2025, 10, 13)]),
        ("once 2025-10-05", date(2025, 10, 1), date(2025, 10, 14), [date(2025, 10, 5)]),
    ])
    def test_table(self, text, first, last, expected):
        assert due_dates(parse_cadence(text), first, last) == expected

    def test_a_holiday_monday_bulletin_moves_to_the_next_working_day(self):
        assert due_dates(parse_cadence("weekly monday"), date(2025, 9, 30), date(2025, 10, 8), is_workday) == []
        assert due_dates(parse_cadence("weekly monday"), date(2025, 10, 1), date(2025, 10, 9), is_workday) == [
            date(2025, 10, 9)]


class TestCadenceProperties:
    @settings(deadline=None)
    @given(CADENCES, DAYS, st.integers(0, 120))
    def test_due_dates_are_sorted_distinct_reporting_days_in_range(self, cadence, first, span):
        last = first + timedelta(days=span)
        dates = due_dates(cadence, first, last, is_workday)
        assert dates == sorted(set(dates))
        assert all(first <= d <= last and is_workday(d) for d in dates)

    @settings(deadline=None)
    @given(st.builds(lambda d, n: Cadence("every", on=d, every=n), DAYS, st.integers(1, 30)))
    def test_every_n_keeps_at_least_n_days_apart(self, cadence):
        dates = due_dates(cadence, cadence.on, cadence.on + timedelta(days=200), is_workday)
        assert all((b - a).days >= cadence.every for a, b in zip(dates, dates[1:], strict=False))
        assert all((b - a).days <= cadence.every + 12 for a, b in zip(dates, dates[1:], strict=False))

    @settings(deadline=None)
    @given(CADENCES)
    def test_text_form_round_trips(self, cadence):
        assert parse_cadence(format_cadence(cadence)) == cadence
        assert Cadence.from_json(cadence.to_json()) == cadence

    @settings(deadline=None)
    @given(st.text(max_size=40))
    def test_parser_accepts_or_says_why(self, text):
        try:
            cadence = parse_cadence(text, today=date(2025, 1, 1))
        except CadenceError as error:
            assert "not a cadence" in str(error)
        else:
            assert cadence.kind in ("once", "every", "weekly", "monthly", "yearly", "stage")

    @settings(deadline=None)
    @given(DAYS, st.integers(1, 5))
    def test_nth_reporting_day_is_after_and_a_working_day(self, day, n):
        due = nth_reporting_day_after(day, n, is_workday)
        assert due > day and is_workday(due)
        assert due - day >= timedelta(days=n)

    def test_last_day_constant(self):
        assert parse_cadence("monthly last").days == (LAST,)
        assert due_dates(Cadence("every", on=None, every=3), date(2025, 1, 1), date(2025, 2, 1), every_day) == []


class TestQuestions:
    @pytest.mark.parametrize(("line", "kind", "label", "options"), [
        ("number: 参与人数", "number", "参与人数", ()),
        ("数字：参与人数", "number", "参与人数", ()),
        ("choice: 类别 = 信访 / 纠纷", "choice", "类别", ("信访", "纠纷")),
        ("file: 照片", "file", "照片", ()),
        ("本月工作情况", "text", "本月工作情况", ()),
    ])
    def test_table(self, line, kind, label, options):
        question = parse_question(line)
        assert (question.kind, question.label, question.options) == (kind, label, options)

    @pytest.mark.parametrize("line", ["choice: 类别 = 只有一个", "number:", "   "])
    def test_bad_lines(self, line):
        with pytest.raises(QuestionError):
            parse_question(line)

    @settings(deadline=None)
    @given(st.text(max_size=80))
    def test_parser_accepts_or_raises_question_error(self, line):
        try:
            question = parse_question(line)
        except QuestionError:
            return
        assert question.label and len(question.label) <= 200
        assert (question.kind == "choice") == bool(question.options)

    @settings(deadline=None)
    @given(st.integers(-10**9, 10**9))
    def test_numbers_round_trip(self, number):
        assert parse_number(f"{number:,}") == number
        assert parse_number(str(number).translate(str.maketrans("0123456789", "０１２３４５６７８９"))) == number

    @pytest.mark.parametrize("text", ["abc", "", "1e400", "nan"])
    def test_not_numbers(self, text):
        assert parse_number(text) is None


class TestScope:
    @pytest.mark.parametrize(("scope", "expected"), [
        (Scope(root=1), [2, 3, 4]),
        (Scope(root=1, include_root=True), [1, 2, 3, 4]),
        (Scope(root=1, kinds=("community",)), [3, 4]),
        (Scope(kinds=("street",)), [2]),
    ])
    def test_select(self, scope, expected):
        kinds = {1: "district", 2: "street", 3: "community", 4: "community"}
        assert scope.select([1, 2, 3, 4], kinds) == expected


class TestAccess:
    """One function decides: operators create anywhere, leaders below their unit, members file."""

    @staticmethod
    def org():
        from datetime import UTC, datetime

        from bot.daily.summary import Org, OrgUnit

        at = datetime(2020, 1, 1, tzinfo=UTC)
        return Org({1: OrgUnit(1, "D01", "区", "district", None, at), 2: OrgUnit(2, "S01", "街道", "street", 1, at),
                    3: OrgUnit(3, "C01", "社区", "community", 2, at)})

    @pytest.mark.parametrize(("role_on", "operator", "action", "unit", "allowed"), [
        ((2, "leader"), False, "create", 2, True),
        ((2, "leader"), False, "create", 3, True),     # below the leader's unit
        ((2, "leader"), False, "create", 1, False),    # above it
        ((2, "admin"), False, "stage", 3, True),
        ((2, "reporter"), False, "create", 2, False),
        ((2, "reporter"), False, "file", 2, True),
        ((2, "leader"), False, "file", 3, False),      # filing is for the unit's own members
        (None, True, "create", None, True),            # operators: the whole organisation
        (None, True, "file", 3, False),
        (None, False, "create", None, False),
    ])
    def test_table(self, role_on, operator, action, unit, allowed):
        from bot.tasks.access import TaskAction, task_allowed
        from storage.models import Member, Membership, Role

        member = (Member(id=1, telegram_id=1001, active=True,
                         memberships=[Membership(unit_id=role_on[0], role=Role(role_on[1]))]) if role_on else None)
        assert task_allowed(member, operator, TaskAction(action), unit, self.org()) is allowed


class TestOrganisationFileTasks:
    @settings(deadline=None)   # timing on a shared machine is not what these test
    @given(CADENCES, st.sampled_from(["09:00", "17:00", "23:59"]),
           st.lists(st.sampled_from(["number: 人数", "choice: 结果 = 正常 / 异常", "file: 照片", "情况说明"]), max_size=3))
    def test_a_task_entry_reads_back(self, cadence, due, questions):
        from bot.org import parse_org

        text = ("units:\n  - code: D01\n    name: 东城区\ntasks:\n  - code: t1\n    title: 检查\n"
                f"    cadence: {format_cadence(cadence)}\n    due_time: \"{due}\"\n    questions: {questions!r}\n")
        [entry] = parse_org(text).tasks
        assert (entry.cadence, entry.due_time) == (cadence, due)
        assert [q.kind for q in entry.questions] == [parse_question(q).kind for q in questions]
