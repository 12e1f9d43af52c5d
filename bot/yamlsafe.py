"""YAML without aliases: the organisation and rules files need none, and an alias that
refers to itself makes the parsers recurse forever, while nested aliases (a "billion
laughs" file) expand exponentially. Refused at the first `*name`, with its line."""

from __future__ import annotations

import yaml


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias (`*name`)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not allowed; write the value out", event.start_mark)
        return super().compose_node(parent, index)
