"""Splitting long texts for Telegram: the short-text fast path gives what the line splitter gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.textutil import _split_lines, split_message

TEXTS = st.text(alphabet=st.sampled_from(["a", "上", "\n", " "]), max_size=60)


class TestSplitMessage:
    @given(TEXTS, st.integers(min_value=1, max_value=40))
    def test_same_as_splitting_line_by_line(self, text, limit):
        assert split_message(text, limit) == _split_lines(text, limit)

    @given(TEXTS, st.integers(min_value=1, max_value=40))
    def test_pieces_fit_the_limit(self, text, limit):
        assert all(len(piece) <= limit for piece in split_message(text, limit))
