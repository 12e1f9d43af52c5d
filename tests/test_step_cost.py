"""Regression guard for the wizard's cost: SQL statements and transactions per step.

Not timed: the counts come from SQLAlchemy events on the bot's engines, counting only what
the reporter's own updates run (the outbox sender's work has no update in its log context).
A change that adds a query to a step fails here; lower a budget when a step gets cheaper.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import event

from bot import logs
from storage.models import Role
from tests.support.wizard_driver import ReporterDriver

REPORTER = 4242

# step → (statements, transactions) at most. Each step: one read (organisation version,
# conversation row and done-marker in one statement) and one write transaction (the
# conversation upsert and the done-marker). /report also loads the member once (then
# cached); a photo also remembers the question it edits; Submit stores the report.
BUDGET = {
    "/report": (6, 2),
    "category": (3, 2),
    "now": (4, 2),              # the place question offers the place of the last report
    "place": (3, 2),
    "people": (3, 2),
    "title": (3, 2),
    "description": (3, 2),
    "skip measures": (3, 2),
    "skip needs": (4, 2),       # the attachments question also records its message
    "photo": (3, 2),
    "done": (5, 2),             # the review grades the draft (rules need the unit tree)
    # The report, its cards, receipt and case rows, and (issue 18) the unit each card copy is
    # sent for and the access facts of the leaders who get private copies; (issue 14) the
    # first cards drawn as the case draws them (acknowledgement per unit, the scene, the
    # plan) and the person the level sends to the scene looked up; (issue 14) the sign-off
    # request, its approver and the hold of the cards beyond the unit, the lateness mark;
    # (issue 15) a public-opinion case opened with its steps drawn on the card. Once per
    # report, in the same two transactions.
    "submit": (44, 2),
}


class StepCounter:
    """Statements and transactions run on behalf of one user's updates."""

    def __init__(self, db, user_id: int):
        self.user_id = user_id
        self.statements = self.transactions = 0
        self.engines = list({id(e): e for e in (db.engine, db.read_engine)}.values())

    def _mine(self) -> bool:
        return logs.current_context().get("user_id") == self.user_id

    def _statement(self, _conn, _cursor, statement: str, *_args) -> None:
        if self._mine() and not statement.startswith("BEGIN"):
            self.statements += 1

    def _begin(self, _conn) -> None:
        if self._mine():
            self.transactions += 1

    def __enter__(self) -> StepCounter:
        for engine in self.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
            event.listen(engine.sync_engine, "begin", self._begin)
        return self

    def __exit__(self, *exc) -> None:
        for engine in self.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", self._statement)
            event.remove(engine.sync_engine, "begin", self._begin)

    def take(self) -> tuple[int, int]:
        figures = (self.statements, self.transactions)
        self.statements = self.transactions = 0
        return figures


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0})


class TestWizardStepCost:
    async def test_no_step_runs_more_statements_than_its_budget(self, bot, emulator, db, org):
        tree = await org.tree()
        await org.member(REPORTER, tree.units["C01"], Role.REPORTER)
        r = ReporterDriver(emulator, REPORTER)
        steps = [("/report", lambda: r.send("/report")), ("category", lambda: r.press("cat", "dispute")),
                 ("now", lambda: r.press("now")), ("place", lambda: r.send("和平路12号")),
                 ("people", lambda: r.send("3")), ("title", lambda: r.send("邻里纠纷")),
                 ("description", lambda: r.send("两户邻居因漏水发生争执。")),
                 ("skip measures", lambda: r.press("skip")), ("skip needs", lambda: r.press("skip")),
                 ("photo", lambda: r.attach("photo")), ("done", lambda: r.press("done")),
                 ("submit", lambda: r.press("submit"))]
        measured: dict[str, tuple[int, int]] = {}
        with StepCounter(db, REPORTER) as counter:
            for name, step in steps:
                await step()
                await emulator.wait_until(lambda: True)
                measured[name] = counter.take()
        over = {name: (measured[name], BUDGET[name]) for name in BUDGET
                if measured[name][0] > BUDGET[name][0] or measured[name][1] > BUDGET[name][1]}
        assert not over, f"steps over their (statements, transactions) budget: {over}"
        assert Counter(measured.values()).most_common(1)[0][0] == (3, 2)
