"""Nothing imports upward. An update travels intake → handlers → domain → storage, and what the
bot owes Telegram leaves through the outbox to delivery; imports follow the same order:

    intake     the Application and its processes: bot.app, bot.runtime, bot.runner, bot.webhook,
               bot.flood, bot.health, bot.metrics, bot.cli, bot.backup, the sandbox, …
    handlers   handlers/ and bot.context (what a handler receives)
    domain     the rest of bot/: reporting, cases, card, daily, org, tasks, ledger, stats, access…
    delivery   bot/delivery/: the sender and the rate limiter, which drain the outbox
    outbox     storage/outbox.py: rows written with their cause, read by delivery
    storage    storage/: models, sessions, migrations, queries

A module may import its own layer and any layer below it. Shared utilities (configuration,
translation, the clock, logging, text helpers, the YAML reader) may be imported from every
layer and import only each other and storage's types.
"""

from __future__ import annotations

import pytest

from tests.support.imports import import_graph

ORDER = ("intake", "handlers", "domain", "delivery", "outbox", "storage")
SHARED = {"bot", "bot.config", "bot.i18n", "bot.level", "bot.clock", "bot.logs", "bot.textutil", "bot.yamlsafe",
          "storage.types"}
INTAKE = ("bot.__main__", "bot.app", "bot.runtime", "bot.runner", "bot.webhook", "bot.flood",
          "bot.health", "bot.metrics", "bot.cli", "bot.backup", "bot.diagrams", "bot.i18n_tools",
          "bot.sandbox", "bot.ledger.cli")
# Being taken apart by issue #10's explicit wiring: the settings validate the rules file.
KNOWN = {("bot.config", "bot.reporting.rules")}


def layer(module: str) -> str | None:
    if module in SHARED:
        return None
    if module.startswith(INTAKE) and any(module == p or module.startswith(p + ".") for p in INTAKE):
        return "intake"
    if module.startswith("handlers") or module == "bot.context":
        return "handlers"
    if module.startswith("bot.delivery"):
        return "delivery"
    if module == "storage.outbox":
        return "outbox"
    if module.startswith("storage"):
        return "storage"
    return "domain"


def upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    found = []
    for module, imports in sorted(graph.items()):
        for target in sorted(imports):
            mine, theirs = layer(module), layer(target)
            if mine is None and theirs is not None and target != "storage.types":
                found.append((module, target))        # a shared utility reaching into a layer
            elif None not in (mine, theirs) and ORDER.index(theirs) < ORDER.index(mine):
                found.append((module, target))
    return [pair for pair in found if pair not in KNOWN]


class TestLayers:
    def test_nothing_imports_upward(self):
        assert upward(import_graph()) == []

    def test_every_known_exception_still_exists(self):
        """An exception that was fixed is taken off the list, so it cannot come back unseen."""
        graph = import_graph()
        assert [pair for pair in KNOWN if pair[1] not in graph.get(pair[0], set())] == []

    @pytest.mark.parametrize(("module", "expected"), [
        ("bot.app", "intake"), ("bot.sandbox.emulator", "intake"), ("bot.ledger.cli", "intake"),
        ("handlers.report.form", "handlers"), ("bot.context", "handlers"),
        ("bot.cases.service", "domain"), ("bot.card.send", "domain"), ("bot.ledger.export", "domain"),
        ("bot.delivery.sender", "delivery"), ("storage.outbox", "outbox"),
        ("storage.models.report", "storage"), ("bot.i18n", None), ("bot.runtime", "intake"),
    ])
    def test_layer_of(self, module, expected):
        assert layer(module) == expected

    @pytest.mark.parametrize(("graph", "expected"), [
        ({"handlers.x": {"bot.runtime"}}, [("handlers.x", "bot.runtime")]),
        ({"bot.cases.x": {"handlers.case"}}, [("bot.cases.x", "handlers.case")]),
        ({"storage.models": {"bot.cases.x"}}, [("storage.models", "bot.cases.x")]),
        ({"bot.delivery.sender": {"storage.outbox", "storage.db"}}, []),
        ({"storage.outbox": {"bot.delivery.sender"}}, [("storage.outbox", "bot.delivery.sender")]),
        ({"bot.i18n": {"bot.cases.x"}}, [("bot.i18n", "bot.cases.x")]),
        ({"bot.app": {"handlers.report", "bot.delivery.sender"}}, []),
    ])
    def test_upward_finds(self, graph, expected):
        assert upward(graph) == expected
