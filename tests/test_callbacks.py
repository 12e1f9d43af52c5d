"""Typed callback data: every kind packs within Telegram's 64 bytes and reads back the same;
garbage, old or forged data is refused as data, never as an exception elsewhere."""

from __future__ import annotations

import dataclasses
import re
import typing
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import callbacks, i18n
from bot.callbacks import (
    LIMIT,
    AdoptionPress,
    CallbackData,
    CallbackDataError,
    CasePress,
    CaseStep,
    DailyPress,
    InvitePress,
    LanguagePress,
    LedgerPress,
    MemberPress,
    ReportPress,
    TaskNewPress,
    TaskPress,
)
from bot.card import keyboards
from bot.cases.machine import FINAL, MACHINE, Action
from storage.models import CaseStatus, Report

KINDS = callbacks.all_kinds()


def _field_values(cls: type[CallbackData]) -> st.SearchStrategy:
    """Values of each field as the class allows them (its own regex), trailing optionals maybe left out."""
    hints = typing.get_type_hints(cls)
    strategies = {}
    for name, kind, optional, rx in cls._spec():
        if isinstance(kind, type) and issubclass(kind, StrEnum):
            base = st.sampled_from(list(kind))
        elif kind is int:
            base = st.from_regex(re.compile(rx), fullmatch=True).map(int)
        else:
            base = st.from_regex(re.compile(rx), fullmatch=True)
        strategies[name] = (base | st.none()) if optional else base
        assert name in hints
    return st.fixed_dictionaries(strategies)


def _instances(cls: type[CallbackData]) -> st.SearchStrategy:
    def build(values: dict) -> CallbackData:
        # Optional fields are trailing: once one is left out, the ones after it are too.
        names = [name for name, *_rest in cls._spec()]
        first_none = next((i for i, name in enumerate(names) if values[name] is None), len(names))
        return cls(**{name: (None if i >= first_none else values[name]) for i, name in enumerate(names)})
    return _field_values(cls).map(build)


class TestRoundTrip:
    @pytest.mark.parametrize("cls", KINDS, ids=lambda c: c.__name__)
    @given(data=st.data())
    def test_pack_unpack_is_the_identity_within_64_bytes(self, cls, data):
        try:
            press = data.draw(_instances(cls))
            packed = press.pack()
        except CallbackDataError:
            return   # too long for a button: refused when built, which is what pack promises
        assert len(packed.encode()) <= LIMIT
        assert cls.unpack(packed) == press
        assert cls.filter()(packed) and re.match(cls.family(), packed)
        for other in KINDS:
            if other is not cls:
                assert other.parse(packed) is None   # prefixes never overlap

    def test_prefixes_are_unique(self):
        prefixes = [cls.prefix for cls in KINDS]
        assert len(prefixes) == len(set(prefixes))

    @pytest.mark.parametrize(("press", "wire"), [
        (CasePress(CaseStep.RECEIVE, 42), "c:rcv:42"),
        (CasePress(CaseStep.ASSIGN, 42, 7, 60), "c:asg:42:7:60"),
        (CasePress(CaseStep.PARK, 9, 1), "c:prk:9:1"),
        (AdoptionPress(callbacks.AdoptionStep.ADOPT, 42), "a:adp:42"),
        (DailyPress(callbacks.DailyStep.ZERO, 3), "d:zero:3"),
        (LanguagePress("zh_Hant"), "lang:zh_Hant"),
        (InvitePress(5, callbacks.Role.LEADER, 7, 1), "inv:5:leader:7:1"),
        (MemberPress(callbacks.MemberStep.REMOVE_CONFIRMED, 8), "mem:rm!:8"),
        (LedgerPress(callbacks.LedgerKind.LEVEL, "2"), "lg:l:2"),
        (TaskNewPress(callbacks.TaskNewStep.CREATE), "tn:ok"),
        (TaskNewPress(callbacks.TaskNewStep.KIND, "街道"), "tn:kind:街道"),
        (TaskPress(callbacks.TaskStep.CHOOSE, 3, 0, 2), "tk:c:3:0:2"),
        (ReportPress("a1b2c3d4", 5, "unit", "12"), "r:a1b2c3d4:5:unit:12"),
        (ReportPress("a1b2c3d4", 5, "done"), "r:a1b2c3d4:5:done"),
    ])
    def test_wire_format_of_buttons_already_sent_is_kept(self, press, wire):
        assert press.pack() == wire
        assert type(press).unpack(wire) == press


class TestLimits:
    @pytest.mark.parametrize("press", [
        TaskNewPress(callbacks.TaskNewStep.KIND, "k" * 33),          # over the field's length
        TaskNewPress(callbacks.TaskNewStep.KIND, "街" * 21),          # 63 bytes of kind: over 64 in all
        ReportPress("a1b2", 1, "unit", "x:y"),                        # the separator inside a value
        ReportPress("a1b2", 1, "unit", ""),                           # nothing in a text field
        LanguagePress("zh-Hans; DROP"),
        CasePress(CaseStep.ASSIGN, 1, None, 60),                      # a gap before a given field
        ReportPress("a1b2", 1, None),                                 # a required field left out
    ], ids=["long-field", "over-64-bytes", "separator", "empty", "odd-characters", "gap", "missing"])
    def test_pack_refuses_what_telegram_or_the_reader_would_not_take(self, press):
        with pytest.raises(CallbackDataError):
            press.pack()


class TestGarbage:
    @pytest.mark.parametrize(("cls", "data"), [
        (CasePress, "c:zzz:1"), (CasePress, "c:rcv"), (CasePress, "c:rcv:x"), (CasePress, "c:rcv:1:2:3:4"),
        (CasePress, "c:rcv:²"), (CasePress, "c:rcv:⑳"), (CasePress, "c:asg:1:2:1234567"), (CasePress, ""),
        (CasePress, None), (CasePress, "r:rcv:1"), (CasePress, "c:rcv:1 "), (CasePress, "c:rcv:" + "1" * 60),
        (AdoptionPress, "a:adp"), (AdoptionPress, "a:xyz:1"),
        (DailyPress, "d:zero:-1"), (DailyPress, "d:none:1"),
        (LanguagePress, "lang:"), (LanguagePress, "lang:en:x"),
        (InvitePress, "inv:1:king:7:1"), (InvitePress, "inv:1:leader:7777:1"),
        (MemberPress, "mem:rm!!:1"), (LedgerPress, "lg:z:all"), (LedgerPress, "lg:l:ALL"),
        (TaskNewPress, "tn:kind:"), (TaskPress, "tk:c:1"), (TaskPress, "tk:q:1:1"),
        (ReportPress, "r:"), (ReportPress, "r:NOTHEX:1:done"), (ReportPress, "r:ab:1"),
    ])
    def test_unpack_raises_and_parse_returns_none(self, cls, data):
        with pytest.raises(CallbackDataError):
            cls.unpack(data)
        assert cls.parse(data) is None
        assert not cls.filter()(data)

    @pytest.mark.parametrize("cls", KINDS, ids=lambda c: c.__name__)
    @given(data=st.one_of(st.text(max_size=80), st.binary(max_size=64).map(lambda b: b.decode("latin-1"))))
    def test_arbitrary_text_never_raises_anything_else(self, cls, data):
        press = cls.parse(data)
        if press is not None:
            assert press.pack() == data


class TestCaseSteps:
    def test_every_step_that_moves_a_case_names_a_machine_action(self):
        assert {step.action for step in CaseStep if step.action is not None} <= set(Action)
        assert CaseStep.ON_SCENE.action is Action.ARRIVE and CaseStep.ASK.action is None

    @pytest.mark.parametrize("status", list(CaseStatus))
    def test_the_card_offers_a_next_step_exactly_when_the_machine_allows_it(self, status):
        with i18n.use_locale("en"):
            markup = keyboards.card_keyboard(Report(id=42, status=status))
        pressed = {CasePress.unpack(b.callback_data).step for row in (markup.inline_keyboard if markup else ())
                   for b in row if CasePress.parse(b.callback_data)}
        for step in keyboards.OPTIONAL:
            assert (step in pressed) == MACHINE.allowed(status, step.action)
        assert (markup is None) == (status in FINAL)

    def test_the_base_class_is_a_frozen_dataclass(self):
        with pytest.raises(dataclasses.FrozenInstanceError):
            CasePress(CaseStep.RECEIVE, 1).report_id = 2  # type: ignore[misc]
