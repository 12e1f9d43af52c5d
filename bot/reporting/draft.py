"""A report being filled in: the answers so far, kept as the FSM's JSON data.

`id` names this form instance and `seq` the question it is at (it grows with every move);
buttons carry both, so a press on a finished or cancelled form, or on an older question of
the same form, is recognised. `prompt` is the message id of the attachments question, which
is edited in place as files arrive.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from bot.reporting.choices import OPINION_CATEGORIES, PETITION_CATEGORIES
from bot.reporting.severity import Facts

# Answers that belong to one category only; changing the category drops them.
OPINION_FIELDS = ("link", "platform", "opinion_class")
PETITION_FIELDS = ("reach",)


@dataclass
class Draft:
    id: str = field(default_factory=lambda: secrets.token_hex(4))
    unit_id: int | None = None
    category: str | None = None
    occurred_at: str | None = None      # ISO 8601 with offset
    place: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    people: int | None = None
    link: str | None = None
    platform: str | None = None
    opinion_class: str | None = None
    reach: str | None = None
    title: str | None = None
    description: str | None = None
    measures: str | None = None          # "" when skipped
    needs: str | None = None             # "" when skipped
    attachments: list[dict[str, Any]] = field(default_factory=list)
    level: int | None = None             # raised by the reporter, or None
    seq: int = 0                         # which question: grows with every move
    prompt: int | None = None            # message id of the attachments question
    editing: bool = False                # came from the review screen to change one answer
    locale: str | None = None

    @classmethod
    def load(cls, data: dict[str, Any]) -> Draft | None:
        """The draft in FSM data, or None when there is none."""
        if not data.get("id"):
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_opinion(self) -> bool:
        return self.category in OPINION_CATEGORIES

    @property
    def is_petition(self) -> bool:
        return self.category in PETITION_CATEGORIES

    @property
    def when(self) -> datetime | None:
        return datetime.fromisoformat(self.occurred_at) if self.occurred_at else None

    def set_category(self, category: str) -> None:
        """Changes the category and forgets the answers that only the old one asked."""
        self.category = category
        stale = (() if self.is_opinion else OPINION_FIELDS) + (() if self.is_petition else PETITION_FIELDS)
        for name in stale:
            setattr(self, name, None)

    def required(self) -> list[str]:
        """The answers a complete report has, in the order they are asked."""
        names = ["unit_id", "category", "occurred_at", "place", "people"]
        if self.is_opinion:
            names += list(OPINION_FIELDS)
        if self.is_petition:
            names += list(PETITION_FIELDS)
        return names + ["title", "description", "measures", "needs"]

    def missing(self) -> list[str]:
        return [name for name in self.required() if not self.answered(name)]

    def answered(self, name: str) -> bool:
        if name == "place":
            return bool(self.place) or self.latitude is not None
        return getattr(self, name) is not None

    def facts(self, unit_code: str | None = None, unit_kind: str | None = None) -> Facts:
        return Facts(category=self.category or "other", people=self.people or 0, reach=self.reach,
                     opinion_class=self.opinion_class, unit_code=unit_code, unit_kind=unit_kind)
