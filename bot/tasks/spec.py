"""What a task asks and of whom: questions and unit scopes, as plain data with their parsers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

QUESTION_KINDS = {"text": "text", "文本": "text", "文字": "text", "number": "number", "数字": "number",
                  "數字": "number", "choice": "choice", "选择": "choice", "選擇": "choice",
                  "file": "file", "附件": "file"}
LABEL_MAX, OPTIONS_MAX, QUESTIONS_MAX = 200, 10, 10
ANSWER_MAX = 3000
FILES_MAX = 10


class QuestionError(ValueError):
    """A question line that cannot be read; the message is for the person who typed it."""


@dataclass(frozen=True)
class Question:
    kind: str                      # text | number | choice | file
    label: str
    options: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"kind": self.kind, "label": self.label, "options": list(self.options)}

    @classmethod
    def from_json(cls, data: dict) -> Question:
        return cls(data["kind"], data.get("label", ""), tuple(data.get("options", ())))


def parse_question(line: str) -> Question:
    """"number: 参与人数", "choice: 类别 = 信访 / 纠纷", "file: 照片"; a bare line is a text question."""
    line = line.strip().replace("：", ":")
    head, sep, rest = line.partition(":")
    kind = QUESTION_KINDS.get(head.strip().lower()) if sep else None
    if kind is None:
        kind, rest = "text", line
    label, _eq, options_text = rest.replace("＝", "=").partition("=")
    label = label.strip()
    options = tuple(o.strip() for o in options_text.replace("／", "/").split("/") if o.strip())
    if not label or len(label) > LABEL_MAX:
        raise QuestionError(line)
    if kind == "choice" and not 2 <= len(options) <= OPTIONS_MAX:
        raise QuestionError(line)
    if kind != "choice" and options:
        label = rest.strip()
    return Question(kind, label[:LABEL_MAX], options if kind == "choice" else ())


def parse_questions(text: str) -> list[Question]:
    """One question per non-empty line; QuestionError on the first bad one."""
    questions = [parse_question(line) for line in text.splitlines() if line.strip()]
    if len(questions) > QUESTIONS_MAX:
        raise QuestionError(text)
    return questions


def parse_number(text: str) -> float | None:
    """A typed number (full-width digits and thousands separators allowed); None if not one."""
    cleaned = text.strip().translate(str.maketrans("０１２３４５６７８９．，－", "0123456789.,-")).replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if abs(value) < 1e15 and value == value else None


@dataclass(frozen=True)
class Scope:
    """The units a task is for: those below `root` (everyone when None), of `kinds` if given."""

    root: int | None = None
    kinds: tuple[str, ...] = ()
    include_root: bool = False

    def to_json(self) -> dict:
        return {"root": self.root, "kinds": list(self.kinds), "include_root": self.include_root}

    @classmethod
    def from_json(cls, data: dict) -> Scope:
        return cls(data.get("root"), tuple(data.get("kinds", ())), bool(data.get("include_root")))

    def select(self, subtree: Iterable[int], kind_of: dict[int, str]) -> list[int]:
        """Of the root's subtree (parents first), the units this scope names."""
        return [u for u in subtree if (u != self.root or self.include_root)
                and (not self.kinds or kind_of.get(u) in self.kinds)]
