"""Property tests through the emulator: arbitrary callback data and arbitrary text at every
step of the report wizard and of a case's private steps, and arbitrary case buttons under a
card. Never the generic error; never a move the step does not allow."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.cases.machine import MACHINE, Action
from bot.reporting.draft import Draft
from handlers.report import ANSWER_ACTIONS, FLOW, PRESS_ACTIONS, ReportForm
from storage.models import FSMState
from tests.support.case_helpers import T0, file_report, reload, started_tree
from tests.support.cases import card

# Modest: every example is a real update through the emulator, and there are many steps.
EXAMPLES = hsettings(max_examples=6, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
GENERIC = "error while handling an update"
TRIGGERS = sorted(FLOW.machine.events)
ACTIONS = sorted({*PRESS_ACTIONS, *ANSWER_ACTIONS})
texts = st.text(min_size=1, max_size=300).filter(lambda t: t.strip() and not t.startswith("/"))


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0,
                                       "telegram_group_rate_per_min": 1000})


@pytest.fixture
async def tree(org, emulator):
    return await started_tree(org, emulator)


def moves(state: str | None) -> set[str | None]:
    """Where one update may take a report step: stay, or one move of the flow."""
    if state is None or state not in ReportForm:
        return {state}
    return {state} | {FLOW.fire(state, t) for t in TRIGGERS if FLOW.allowed(state, t)}


def full_draft(unit_id: int, step: str) -> Draft:
    draft = Draft(unit_id=unit_id, category="public_opinion" if step.startswith("opinion") else
                  "petition" if step == "petition_reach" else "dispute",
                  occurred_at=T0.isoformat(), place="和平路12号", people=3, title="纠纷", description="两户争吵。",
                  measures="", needs="", locale="zh_Hans", seq=5)
    if step.startswith("opinion"):
        draft.link, draft.platform, draft.opinion_class = "https://weibo.com/1", "weibo", "general"
    if step == "petition_reach":
        draft.reach = "county"
    return draft


async def set_step(db, user_id: int, state: str | None, data: dict) -> None:
    async with db.session() as session:
        row = await session.get(FSMState, (user_id, user_id))
        if row is None:
            session.add(FSMState(chat_id=user_id, user_id=user_id, state=state, data=data, version=1))
        else:
            row.state, row.data = state, data


async def step_of(db, user_id: int) -> str | None:
    async with db.session() as session:
        row = await session.get(FSMState, (user_id, user_id))
        return row.state if row else None


async def run_property(test, loop=None) -> None:
    """Run a sync @given test whose examples are coroutines, in a thread, each example
    awaited on this loop (where the bot runs): Hypothesis cannot run async tests itself."""
    loop = loop or asyncio.get_running_loop()
    await asyncio.to_thread(test, lambda coroutine: asyncio.run_coroutine_threadsafe(coroutine, loop).result(60))


def errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(GENERIC)]


class TestWizardSteps:
    @pytest.mark.parametrize("step", ReportForm.names())
    async def test_any_press_or_text(self, bot, emulator, db, tree, caplog, step):
        reporter = tree.reporters["C01"]
        draft = full_draft(tree.units["C01"].id, step.split(":")[1])
        await set_step(db, reporter, step, draft.dump())
        user = emulator.users[reporter]
        await user.send("/report")
        # The question: inline buttons of this draft, or (the place) a reply keyboard.
        prompt = await emulator.wait_for_message(reporter, predicate=lambda m: any(
            b.get("callback_data", "").startswith(f"r:{draft.id}:") for b in m.buttons())
            or "keyboard" in (m.reply_markup or {}))

        presses = st.builds(lambda seq, action, value: f"r:{draft.id}:{seq}:{action}" + (f":{value}" if value else ""),
                            st.sampled_from([draft.seq, draft.seq + 1, 0]), st.sampled_from(ACTIONS),
                            st.one_of(st.none(), st.text(max_size=12), st.integers(-5, 10 ** 6).map(str)))
        anything = st.text(max_size=64).filter(lambda d: 0 < len(d.encode()) <= 64)

        @given(event=st.one_of(presses, anything.map(lambda d: ("raw", d)), texts.map(lambda t: ("text", t))))
        @EXAMPLES
        def check(run, event) -> None:
            run(example(event))

        async def example(event) -> None:
            before = await step_of(db, reporter)
            if isinstance(event, tuple) and event[0] == "text":
                await user.send(event[1])
            else:
                query = await user.press_raw(None, prompt.message_id, event[1] if isinstance(event, tuple) else event)
                await emulator.wait_callback_answer(query)
            await emulator.wait_idle(quiet=0.05)
            after = await step_of(db, reporter)
            closing = isinstance(event, str) and event.split(":")[3] in ("cancel_yes", "submit")
            assert after in moves(before) or (closing and after is None), (event, before, after)
            assert not errors(caplog), event

        await run_property(check)


class TestCaseSteps:
    NEXT = {"FollowUpForm:text": {"FollowUpForm:text", "FollowUpForm:people"},
            "FollowUpForm:people": {"FollowUpForm:people", None},
            "CaseText:outcome": {"CaseText:outcome", None}, "CaseText:reason": {"CaseText:reason", None}}

    @pytest.mark.parametrize("state, who", [("FollowUpForm:text", 3003), ("FollowUpForm:people", 3003),
                                            ("CaseText:outcome", 1003), ("CaseText:reason", 1003)])
    async def test_any_text(self, bot, emulator, db, settings, tree, caplog, state, who):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3)
        await card(emulator, -1003, report)

        @given(text=texts)
        @EXAMPLES
        def check(run, text: str) -> None:
            run(example(text))

        async def example(text: str) -> None:
            await set_step(db, who, state, {"report_id": report.id})
            await emulator.users[who].send(text)
            await emulator.wait_idle(quiet=0.05)
            assert await step_of(db, who) in self.NEXT[state], text
            assert not errors(caplog), text

        await run_property(check)

    async def test_any_button_under_a_card(self, bot, emulator, db, settings, tree, caplog):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3)
        message = await card(emulator, -1003, report)
        codes = st.sampled_from(["rcv", "asg", "ask", "cls", "scn", "res", "rej", "acc", "fup", "fpk", "stp", "prk",
                                 "kep", "dtl", "zzz"])
        numbers = st.one_of(st.none(), st.integers(0, 10 ** 6))
        data = st.builds(lambda code, rid, a, b: ":".join(str(p) for p in ("c", code, rid, a, b) if p is not None),
                         codes, st.sampled_from([report.id, report.id + 1]), numbers, numbers)

        @given(pressed=data, who=st.sampled_from([1003, 1002, 3003, 3004]))
        @EXAMPLES
        def check(run, pressed: str, who: int) -> None:
            run(example(pressed, who))

        async def example(pressed: str, who: int) -> None:
            before = (await reload(db, report.id)).status
            query = await emulator.users[who].press_raw(emulator.chats[-1003], message.message_id, pressed)
            await emulator.wait_callback_answer(query)
            await emulator.wait_idle(quiet=0.05)
            after = (await reload(db, report.id)).status
            assert after == before or any(MACHINE.allowed(before, a) and MACHINE.fire(before, a) == after
                                          for a in Action), (pressed, who, before, after)
            assert not errors(caplog), pressed

        await run_property(check)
        async with db.session() as session:
            assert (await session.execute(select(FSMState).where(FSMState.chat_id < 0))).first() is None
