"""YAML without aliases: the organisation and rules files need none, and an alias that
refers to itself makes the parsers recurse forever, while nested aliases (a "billion
laughs" file) expand exponentially. Refused at the first `*name`, with its line.

Both readers also need the line of whatever they find wrong: `compose` gives the node tree
(the organisation reader walks it), `load_located` plain data with each value's line by its
place (the rules reader names places like `severity.rules[2].level`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias (`*name`)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed; write the value out", event.start_mark)
        return super().compose_node(parent, index)


# --- YAML that remembers its lines: shared by the organisation and the rules readers ------


class YamlSyntaxError(Exception):
    """The text is not YAML (or uses an alias): the problem and its line, where known."""

    def __init__(self, problem: str, line: int | None):
        super().__init__(problem)
        self.problem, self.line = problem, line


def compose(text: str) -> Node | None:
    """The document's node tree (each node knows its line); None for an empty document."""
    try:
        return yaml.compose(text, Loader=NoAliasLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(str(exc.problem or exc.context), mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc), None) from exc


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


@dataclass
class Located:
    """Plain data (as `yaml.safe_load` gives) with the line of every value, by its place
    written `key.sub[2].name` (the root is "")."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, where: str) -> int | None:
        """The line of `where`, or of the nearest enclosing value that has one."""
        while where not in self.lines and where:
            where = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", where) if re.search(r"[.\[]", where) else ""
        return self.lines.get(where)


def load_located(text: str) -> Located:
    """Like `yaml.safe_load` (without aliases), remembering where each value was written."""
    root = compose(text)
    located = Located(None)
    located.data = None if root is None else _build(root, "", located.lines, yaml.constructor.SafeConstructor())
    return located


def _build(node: Node, where: str, lines: dict[str, int], constructor: yaml.constructor.SafeConstructor) -> Any:
    lines.setdefault(where, line_of(node))
    if isinstance(node, MappingNode):
        built = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            place = f"{where}.{key}" if where else str(key)
            lines[place] = line_of(key_node)   # a nested value starts below its key: name the key's line
            built[key] = _build(value_node, place, lines, constructor)
        return built
    if isinstance(node, SequenceNode):
        return [_build(item, f"{where}[{index}]", lines, constructor) for index, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)
