"""The group card (and a leader's private copy): one owner for its key, text, buttons,
attachments and copies.

- `render`: the card's text (whole or brief); `keyboards`: its buttons (`bot.callbacks`);
- `copies`: which chats have a copy, for which unit, under which outbox key;
- `send`: the first cards (routing asks at filing), new copies, edits and replies (the case asks).

Nothing outside this package builds a card's key. Import the submodules, not this package's
names: `copies` sits below `bot.cases`, `send` above it.
"""
