"""The drawings in docs/state-machines.md are the machines the code runs."""

from __future__ import annotations

import argparse

import pytest
from transitions import Machine

from bot.cli import DIAGRAMS_FILE, cmd_diagrams, state_machines_document
from bot.diagrams import mermaid


def _machine(transitions: list[dict]) -> Machine:
    return Machine(model=None, states=["Form:a", "Form:b", "Form:c"], initial="Form:a",
                   transitions=transitions, auto_transitions=False)


class TestMermaid:
    @pytest.mark.parametrize(("transitions", "expected"), [
        ([{"trigger": "next", "source": "Form:a", "dest": "Form:b"}], ["a --> b : next"]),
        # Two triggers between the same pair of states share one arrow.
        ([{"trigger": "next", "source": "Form:a", "dest": "Form:b"},
          {"trigger": "skip", "source": "Form:a", "dest": "Form:b"}], ["a --> b : next, skip"]),
        ([{"trigger": "go", "source": ["Form:a", "Form:b"], "dest": "Form:c"}],
         ["a --> c : go", "b --> c : go"]),
    ])
    def test_arrows(self, transitions, expected):
        lines = mermaid(_machine(transitions)).splitlines()
        assert lines[:2] == ["stateDiagram-v2", "    [*] --> a"]
        assert [line.strip() for line in lines[2:]] == expected

    def test_final_states(self):
        text = mermaid(_machine([{"trigger": "end", "source": "Form:a", "dest": "Form:c"}]),
                       final=["Form:c"])
        assert text.endswith("    c --> [*]\n")


class TestDocs:
    def test_file_matches_the_machines(self):
        assert DIAGRAMS_FILE.read_text(encoding="utf-8") == state_machines_document(), (
            "docs/state-machines.md is out of date: run `python -m bot diagrams`")

    def test_every_case_transition_is_drawn(self):
        from bot.cases.machine import TRANSITIONS

        text = state_machines_document()
        for transition in TRANSITIONS:
            sources = transition["source"]
            for source in sources if isinstance(sources, list) else [sources]:
                assert f"{source} --> {transition['dest']} :" in text

    def test_check_fails_on_a_stale_file(self, monkeypatch, tmp_path, capsys):
        stale = tmp_path / "state-machines.md"
        stale.write_text("old drawing", encoding="utf-8")
        monkeypatch.setattr("bot.cli.DIAGRAMS_FILE", stale)
        assert cmd_diagrams(None, argparse.Namespace(check=True)) == 1
        assert cmd_diagrams(None, argparse.Namespace(check=False)) == 0
        assert cmd_diagrams(None, argparse.Namespace(check=True)) == 0
