"""The public-opinion step rules, the figures-of-spread parser and the link finder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.opinion.steps import (
    FIGURES_MAX,
    Progress,
    Step,
    due_steps,
    is_due,
    links_in,
    parse_figures,
)
from bot.reporting.validation import Invalid

M, C, D, A, R, S = Step.MONITOR, Step.CONSULT, Step.DRAFT, Step.APPROVE, Step.REPLY, Step.SUBSIDE


class TestDueSteps:
    @pytest.mark.parametrize("progress, due", [
        (Progress(), [M, C, D]),                                                   # just reported
        (Progress(drafted=True), [M, C, D, A]),                                    # a draft waits
        (Progress(drafted=True, approved=True), [M, C, R]),                        # reply next
        (Progress(drafted=True, approved=True, replied=True), [M, C, S]),          # follow it until it subsides
        (Progress(drafted=True, approved=True, replied=True, subsided=True), []),
        (Progress(ended=True), []),                                                # closed, merged, rejected
        (Progress(drafted=True, ended=True), []),
    ])
    def test_the_documents_order(self, progress, due):
        assert due_steps(progress) == due

    @pytest.mark.parametrize("step, progress, allowed", [
        (R, Progress(), False),                              # no reply without an approved statement
        (R, Progress(drafted=True), False),
        (A, Progress(), False),                              # nothing to approve
        (S, Progress(drafted=True, approved=True), False),   # no "subsided" before the public reply
        (D, Progress(drafted=True, approved=True), False),   # the approved statement stays
        (D, Progress(drafted=True), True),                   # a new draft replaces one not approved
        (M, Progress(drafted=True, approved=True, replied=True), True),
        (C, Progress(ended=True), False),
    ])
    def test_is_due(self, step, progress, allowed):
        assert is_due(progress, step) is allowed


class TestFigures:
    @pytest.mark.parametrize("text, figures", [
        ("12000 300 45", {"views": 12000, "shares": 300, "comments": 45}),
        ("1.2万，300、45", {"views": 12000, "shares": 300, "comments": 45}),
        ("3w", {"views": 30000}),
        ("2.5k / 10", {"views": 2500, "shares": 10}),
        ("1.3万", {"views": 13000}),
        ("  0  ", {"views": 0}),
    ])
    def test_parsed(self, text, figures):
        assert parse_figures(text) == figures

    @pytest.mark.parametrize("text", ["", "很多", "1 2 3 4", "1.5", "-3", "1.23456k", "10000000000000"])
    def test_refused(self, text):
        assert isinstance(parse_figures(text), Invalid)

    @given(st.lists(st.integers(min_value=0, max_value=FIGURES_MAX), min_size=1, max_size=3),
           st.sampled_from([" ", "，", "、", ", ", " / "]))
    def test_written_numbers_come_back(self, numbers, separator):
        parsed = parse_figures(separator.join(map(str, numbers)))
        assert list(parsed.values()) == numbers

    @given(st.text(max_size=40))
    def test_anything_is_numbers_or_refused(self, text):
        parsed = parse_figures(text)
        assert isinstance(parsed, Invalid) or all(0 <= v <= FIGURES_MAX for v in parsed.values())


class TestLinks:
    @pytest.mark.parametrize("text, links", [
        ("转发量上升 https://weibo.com/1/2，评论激烈", ["https://weibo.com/1/2"]),
        ("http://a.cn/x http://a.cn/x https://b.cn", ["http://a.cn/x", "https://b.cn"]),
        ("没有链接", []),
    ])
    def test_found_once_each(self, text, links):
        assert links_in(text) == links
