"""The rate limiter: the scheduler with a fake clock, then the PTB limiter on a real loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from bot.delivery.limiter import Limits, PriorityRateLimiter, Scheduler, Ticket, is_message_request
from storage.models import Priority

EXACT = dict(margin=1.0)


class Clock:
    """A scheduler driven by hand: `run(until)` grants every ticket as soon as it may go."""

    def __init__(self, **limits):
        self.scheduler = Scheduler(Limits(**{**EXACT, **limits}))
        self.now = 0.0
        self.granted: list[tuple[float, Ticket]] = []
        self.seq = 0

    def queue(self, chat_id, priority=Priority.NORMAL, n: int = 1, weight: int = 1) -> list[Ticket]:
        tickets = []
        for _ in range(n):
            self.seq += 1
            tickets.append(Ticket(chat_id=chat_id, priority=int(priority), seq=self.seq, weight=weight))
            self.scheduler.add(tickets[-1])
        return tickets

    def run(self, until: float, *, finish: bool = True) -> list[tuple[float, Ticket]]:
        """Advance time, granting tickets; each request completes at once when `finish`."""
        start = len(self.granted)
        while True:
            ticket, look_again = self.scheduler.pick(self.now)
            if ticket is not None:
                self.granted.append((self.now, ticket))
                if finish:
                    self.scheduler.done(ticket, self.now)
                continue
            if look_again is None or look_again > until:
                self.now = max(self.now, until)
                return self.granted[start:]
            self.now = look_again

    def chats(self, granted) -> list:
        return [t.chat_id for _, t in granted]


class TestBuckets:
    def test_global_pace(self):
        clock = Clock(global_rate=10, chat_rate=100)
        clock.queue(1), clock.queue(2), clock.queue(3)
        times = [at for at, _ in clock.run(10)]
        assert times == pytest.approx([0.0, 0.1, 0.2])

    def test_chat_pace(self):
        clock = Clock(global_rate=100, chat_rate=1)
        clock.queue(5, n=3)
        assert [at for at, _ in clock.run(10)] == pytest.approx([0.0, 1.0, 2.0])

    def test_group_window_of_a_minute(self):
        clock = Clock(global_rate=100, chat_rate=10, group_per_minute=3)
        clock.queue(-100, n=5)
        assert [at for at, _ in clock.run(200)] == pytest.approx([0.0, 0.1, 0.2, 60.0, 60.1])

    def test_an_album_counts_once_per_item(self):
        clock = Clock(global_rate=10, chat_rate=100, group_per_minute=5)
        clock.queue(-100, weight=3), clock.queue(-100, weight=3), clock.queue(1)
        granted = clock.run(200)
        assert [(at, t.chat_id) for at, t in granted] == [
            (0.0, -100), (pytest.approx(0.3), 1), (pytest.approx(60.0), -100)]

    def test_bulk_leaves_part_of_a_groups_minute_to_cards(self):
        clock = Clock(global_rate=100, chat_rate=10, group_per_minute=5, group_reserve=2)
        clock.queue(-100, Priority.BULK, n=4)
        clock.run(5)
        clock.queue(-100, Priority.URGENT)
        granted = clock.run(10)
        assert [(t.priority, at) for at, t in granted] == [(Priority.URGENT, 5.0)]
        assert [t.priority for _, t in clock.run(200)] == [Priority.BULK]

    def test_private_chats_have_no_minute_window(self):
        clock = Clock(global_rate=100, chat_rate=10, group_per_minute=3)
        clock.queue(100, n=5)
        assert [at for at, _ in clock.run(200)][-1] == pytest.approx(0.4)

    def test_one_request_in_flight_per_chat(self):
        clock = Clock(global_rate=100, chat_rate=100)
        first, _second = clock.queue(7, n=2)
        assert clock.chats(clock.run(5, finish=False)) == [7]
        clock.scheduler.done(first, clock.now)
        assert clock.chats(clock.run(6)) == [7]

    def test_lowering_the_global_rate_slows_the_pace(self):
        clock = Clock(global_rate=10, chat_rate=100)
        clock.scheduler.rate = 2
        clock.queue(1), clock.queue(2)
        assert [at for at, _ in clock.run(10)] == pytest.approx([0.0, 0.5])


class TestPriorities:
    def test_urgent_overtakes_queued_bulk(self):
        clock = Clock(global_rate=10, chat_rate=100)
        for chat in range(20):
            clock.queue(-chat - 1, Priority.BULK)
        clock.run(0.25)
        clock.queue(-999, Priority.URGENT)
        granted = clock.run(0.35)
        assert clock.chats(granted)[0] == -999

    @pytest.mark.parametrize("order", [
        [Priority.BULK, Priority.REMINDER, Priority.NORMAL, Priority.URGENT, Priority.INTERACTIVE],
        [Priority.INTERACTIVE, Priority.URGENT, Priority.NORMAL, Priority.REMINDER, Priority.BULK],
    ])
    def test_classes_go_highest_first(self, order):
        clock = Clock(global_rate=10, chat_rate=100)
        for number, priority in enumerate(order):
            clock.queue(number + 1, priority)
        got = [t.priority for _, t in clock.run(10)]
        assert got == sorted(int(p) for p in order)

    def test_higher_class_waiting_for_its_chat_does_not_hold_up_others(self):
        clock = Clock(global_rate=10, chat_rate=1)
        clock.queue(1, Priority.URGENT, n=2)
        clock.queue(2, Priority.BULK, n=3)
        granted = clock.run(1.5)
        assert [(at, t.chat_id) for at, t in granted] == [
            (0.0, 1), (pytest.approx(0.1), 2), (1.0, 1), (pytest.approx(1.1), 2)]

    def test_round_robin_across_chats_within_a_class(self):
        clock = Clock(global_rate=100, chat_rate=100)
        clock.queue("A", n=3), clock.queue("B", n=3), clock.queue("C", n=1)
        assert clock.chats(clock.run(10)) == ["A", "B", "C", "A", "B", "A", "B"]

    def test_first_in_first_out_within_a_chat(self):
        clock = Clock(global_rate=100, chat_rate=100)
        tickets = clock.queue(3, n=4)
        assert [t for _, t in clock.run(10)] == tickets


class TestRetryAfter:
    def test_pauses_only_that_chat_and_retries_it_first(self):
        clock = Clock(global_rate=100, chat_rate=100)
        first, second = clock.queue(1, n=2)
        clock.queue(2, n=3)
        assert [t for _, t in clock.run(0, finish=False)] == [first]
        clock.scheduler.retry_after(first, 5.0, clock.now)
        clock.scheduler.add(first, front=True)
        later = clock.run(10)
        assert [t.chat_id for at, t in later if at < 5] == [2, 2, 2]
        assert [t for at, t in later if t.chat_id == 1] == [first, second]
        assert later[-2][0] >= 5.0

    def test_a_429_without_a_chat_pauses_everyone(self):
        clock = Clock(global_rate=100, chat_rate=100)
        (inline,) = clock.queue(None)
        clock.run(0, finish=False)
        clock.scheduler.retry_after(inline, 3.0, clock.now)
        clock.queue(8)
        assert clock.run(10)[0][0] == pytest.approx(3.0)

    def test_many_chats_told_429_at_once_pause_everyone(self):
        clock = Clock(global_rate=100, chat_rate=100, many_chats_429=3)
        tickets = [clock.queue(chat)[0] for chat in (1, 2, 3)]
        clock.run(0.05, finish=False)
        for ticket in tickets:
            clock.scheduler.retry_after(ticket, 2.0, clock.now)
        clock.queue(9)
        assert clock.run(10)[0][0] >= 2.0

    def test_one_chats_429_does_not_pause_the_others(self):
        clock = Clock(global_rate=100, chat_rate=100)
        (ticket,) = clock.queue(1)
        clock.run(0, finish=False)
        clock.scheduler.retry_after(ticket, 30.0, clock.now)
        clock.queue(2)
        assert clock.run(1)[0][1].chat_id == 2


class TestWhatIsThrottled:
    @pytest.mark.parametrize(("endpoint", "throttled"), [
        ("sendMessage", True), ("sendMediaGroup", True), ("editMessageText", True),
        ("editMessageReplyMarkup", True), ("copyMessage", True), ("forwardMessage", True),
        ("sendChatAction", False), ("answerCallbackQuery", False), ("getMe", False),
        ("setMyCommands", False), ("getUpdates", False), ("deleteWebhook", False),
    ])
    def test_endpoints(self, endpoint, throttled):
        assert is_message_request(endpoint) is throttled


class Recorder:
    """A fake Bot API call: records (endpoint, chat, text); 429s scripted per chat."""

    def __init__(self):
        self.log: list[tuple[str, object, str | None]] = []
        self.fail: dict[object, int] = {}

    def call(self, limiter: PriorityRateLimiter, endpoint: str, chat_id=None, text=None, **rate_limit_args):
        async def callback():
            await asyncio.sleep(0)
            if self.fail.get(chat_id):
                self.fail[chat_id] -= 1
                raise RetryAfter(timedelta(seconds=0.05))
            self.log.append((endpoint, chat_id, text))
            return {"message_id": len(self.log)}

        data = {"chat_id": chat_id, "text": text} if chat_id is not None else {}
        return limiter.process_request(callback, (), {}, endpoint, data, rate_limit_args or None)


@pytest.fixture
async def limiter():
    limiter = PriorityRateLimiter(Limits(global_rate=200, chat_rate=100, group_per_minute=1000))
    await limiter.initialize()
    yield limiter
    await limiter.shutdown()


class TestLimiterOnTheLoop:
    async def test_replies_under_429s_all_arrive_in_order_per_chat(self, limiter):
        recorder = Recorder()
        recorder.fail = {chat: 2 for chat in range(1, 6)}

        async def conversation(chat):
            for n in range(4):
                await recorder.call(limiter, "sendMessage", chat, f"{chat}:{n}")

        await asyncio.gather(*(conversation(chat) for chat in range(1, 11)))
        for chat in range(1, 11):
            assert [t for _, c, t in recorder.log if c == chat] == [f"{chat}:{n}" for n in range(4)]
        assert limiter.stats["429"] == 10

    async def test_other_requests_do_not_wait_for_the_message_budget(self):
        slow = PriorityRateLimiter(Limits(global_rate=0.5, chat_rate=100))
        recorder = Recorder()
        await recorder.call(slow, "sendMessage", 1, "first")
        second = asyncio.ensure_future(recorder.call(slow, "sendMessage", 2, "second"))
        for n in range(20):
            await recorder.call(slow, "answerCallbackQuery", text=str(n))
        assert [t for _, _, t in recorder.log] == ["first", *map(str, range(20))]
        second.cancel()
        await slow.shutdown()
        assert slow.scheduler.waiting == 0

    async def test_priority_passed_by_the_sender_is_honoured(self):
        slow = PriorityRateLimiter(Limits(global_rate=20, chat_rate=100))
        recorder = Recorder()
        bulk = [asyncio.ensure_future(recorder.call(slow, "sendMessage", -n, f"b{n}", priority=Priority.BULK))
                for n in range(1, 8)]
        await asyncio.sleep(0)
        urgent = recorder.call(slow, "sendMessage", -100, "urgent", priority=Priority.URGENT)
        await asyncio.gather(urgent, *bulk)
        assert [t for _, _, t in recorder.log].index("urgent") <= 1
        await slow.shutdown()

    async def test_phase_callback_marks_the_point_of_no_return(self, limiter):
        recorder, phases = Recorder(), []
        recorder.fail = {4: 1}
        await recorder.call(limiter, "sendMessage", 4, "x", on_phase=phases.append)
        assert phases == [True, False, True]

    async def test_max_retries_gives_the_429_back(self, limiter):
        recorder = Recorder()
        recorder.fail = {5: 3}
        with pytest.raises(RetryAfter):
            await recorder.call(limiter, "sendMessage", 5, "x", max_retries=1)
        assert limiter.scheduler.waiting == 0


def most_in_any_window(times: list[float], span: float) -> int:
    """The largest number of sends in any window [t, t + span) (windows start at a send)."""
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u < t + span) for i, t in enumerate(times)), default=0)


class LateClock(Clock):
    """The dispatcher wakes up late by `lateness[i]` each time it sleeps, and each granted
    request starts `start_delay` after its grant (a busy event loop)."""

    def run_late(self, until: float, lateness: list[float], start_delay: float = 0.0) -> list[float]:
        starts: list[float] = []
        n = 0
        while self.now <= until:
            ticket, look_again = self.scheduler.pick(self.now)
            if ticket is not None:
                start = self.now + start_delay
                self.scheduler.started(ticket, start)
                self.scheduler.done(ticket, start)
                starts.append(start)
                continue
            if look_again is None:
                break
            self.now = max(look_again, self.now) + lateness[n % len(lateness)]
            n += 1
        return starts


class TestGlobalWindow:
    """No second ever holds more than the global limit, whatever the timer does."""

    LIMIT = 30

    @pytest.mark.parametrize("lateness", [
        [0.0], [0.001], [0.02], [0.0, 0.0, 0.033], [0.3, 0.0, 0.0, 0.0], [0.05, 0.001, 0.0, 0.2],
    ])
    @pytest.mark.parametrize("start_delay", [0.0, 0.01])
    def test_late_wake_ups_never_put_more_than_the_limit_in_a_second(self, lateness, start_delay):
        clock = LateClock(global_rate=self.LIMIT, chat_rate=1, margin=1.0)
        for chat in range(1, 301):
            clock.queue(chat)
        starts = clock.run_late(60, lateness, start_delay)
        assert len(starts) == 300
        assert most_in_any_window(starts, 1.0) <= self.LIMIT

    def test_after_a_late_wake_up_the_next_send_waits_a_full_pace_from_now(self):
        clock = LateClock(global_rate=10, chat_rate=100, margin=1.0)
        clock.queue(1), clock.queue(2), clock.queue(3)
        starts = clock.run_late(10, [0.09, 0.0])
        # 0.0; due 0.1 but woke at 0.19; then a full pace later, not at the missed 0.2.
        assert starts == pytest.approx([0.0, 0.19, 0.29])

    def test_requests_that_start_late_count_from_their_start(self):
        scheduler = Scheduler(Limits(global_rate=2, chat_rate=100, margin=1.0))
        first, second, third = (Ticket(chat_id=n, priority=0, seq=n) for n in range(3))
        for ticket in (first, second, third):
            scheduler.add(ticket)
        assert scheduler.pick(0.0)[0] is first
        assert scheduler.pick(0.5)[0] is second
        scheduler.started(first, 0.9)   # the loop was busy: it only went out at 0.9
        # Stamped at its grant (0.0) it would have left the window at 1.0; it left at 0.9,
        # so the window holds 0.5 and 0.9 until 0.5 drops out.
        ticket, look_again = scheduler.pick(1.2)
        assert ticket is None and look_again == pytest.approx(1.5)

    def test_the_margin_widens_the_window(self):
        clock = Clock(global_rate=2, chat_rate=100, margin=1.5)
        for chat in range(1, 6):
            clock.queue(chat)
        times = [at for at, _ in clock.run(10)]
        assert most_in_any_window(times, 1.5) <= 2

    def test_a_replicas_share_keeps_its_own_window(self):
        clock = LateClock(global_rate=30, chat_rate=1, margin=1.0)
        clock.scheduler.rate = 6.0
        for chat in range(1, 61):
            clock.queue(chat)
        starts = clock.run_late(30, [0.2, 0.0, 0.0])
        assert most_in_any_window(starts, 1.0) <= 6

    def test_retries_after_429_count_again(self):
        scheduler = Scheduler(Limits(global_rate=2, chat_rate=100, margin=1.0, many_chats_429=99))
        tickets = [Ticket(chat_id=n, priority=0, seq=n) for n in range(3)]
        for ticket in tickets:
            scheduler.add(ticket)
        now, starts = 0.0, []
        for _ in range(20):
            ticket, look_again = scheduler.pick(now)
            if ticket is None:
                if look_again is None:
                    break
                now = look_again
                continue
            starts.append(now)
            if ticket is tickets[0] and len(starts) == 1:
                scheduler.retry_after(ticket, 0.0, now)   # told 429: it goes again
                scheduler.add(ticket, front=True)
            else:
                scheduler.done(ticket, now)
        assert len(starts) == 4
        assert most_in_any_window(starts, 1.0) <= 2
