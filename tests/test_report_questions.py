"""The report form's question table agrees with its states, its review labels and its presses."""

from __future__ import annotations

import pytest

from bot.reporting.review import FIELDS
from handlers.report import ANSWER_ACTIONS, FLOW, PRESS_ACTIONS, QUESTIONS, ReportForm
from handlers.report.questions import ChoiceQuestion, TextQuestion


class TestQuestionTable:
    def test_one_question_per_state(self):
        assert [f"ReportForm:{step}" for step in QUESTIONS] == ReportForm.names()

    def test_answering_presses_and_other_presses_are_apart(self):
        assert not ANSWER_ACTIONS & set(PRESS_ACTIONS)

    @pytest.mark.parametrize("step", [s for s, q in QUESTIONS.items() if isinstance(q, TextQuestion | ChoiceQuestion)])
    def test_each_fills_the_field_the_review_shows(self, step):
        assert QUESTIONS[step].field == FIELDS[step][1]

    @pytest.mark.parametrize("step", list(QUESTIONS))
    def test_typed_questions_are_the_text_ones(self, step):
        assert QUESTIONS[step].typed == isinstance(QUESTIONS[step], TextQuestion)

    @pytest.mark.parametrize("step", [s for s in QUESTIONS if s not in ("review", "level")])
    def test_every_question_before_the_review_can_be_edited_from_it(self, step):
        assert FLOW.allowed("ReportForm:review", f"edit_{step}")
