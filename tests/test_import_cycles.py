"""No two production modules import each other, directly or round a ring, counting imports
made inside functions (a deferred import hides a cycle, it does not remove it); imports
under `if TYPE_CHECKING:` are only for the type checker and do not count."""

from __future__ import annotations

import pytest

from tests.support.imports import import_graph

# The one ring left: `bot sandbox` runs the bot's CLI, whose `run` falls back to the sandbox
# when there is no token. The test fails on any other ring, and on this one growing.
KNOWN = {
    frozenset({"bot.cli", "bot.sandbox.run"}),
}


def rings(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    ring = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        ring.add(member)
                        if member == node:
                            break
                    if len(ring) > 1:
                        found.append(frozenset(ring))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


class TestImportCycles:
    def test_no_new_ring_of_imports(self):
        new = [sorted(ring) for ring in rings(import_graph()) if ring not in KNOWN]
        assert new == []

    @pytest.mark.parametrize(("graph", "expected"), [
        ({"a": {"b"}, "b": {"a"}}, [frozenset({"a", "b"})]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [frozenset({"a", "b", "c"})]),
        ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
    ], ids=["pair", "ring-of-three", "none"])
    def test_rings_are_found(self, graph, expected):
        assert rings(graph) == expected

    def test_the_card_and_the_routing_no_longer_import_each_other(self):
        graph = import_graph()
        assert "bot.reporting.routing" not in set().union(*(graph[m] for m in graph if m.startswith("bot.card")))
        assert "bot.card.send" in graph["bot.reporting.routing"]
