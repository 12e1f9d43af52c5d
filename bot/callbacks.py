"""Every button's callback data, one small class per kind of button (as aiogram's CallbackData).

A class names its prefix and its fields (int, str, a StrEnum, each optionally `| None` at
the end); `pack()` writes `prefix:field:field…` and refuses what Telegram would refuse
(over 64 bytes, a ':' or nothing inside a text field), so a too-long button fails when it is
built, not when Telegram rejects the message. `unpack()` parses strictly and raises
`CallbackDataError`; `parse()` returns None instead. Handlers register `Cls.filter()` (only
well-formed data reaches them; the rest falls to the catch-all that answers and audits) or,
when they refuse forged data themselves, `Cls.family()` (everything with the prefix).

Adding a button: subclass `CallbackData` with a new prefix, pack it where the button is
built, unpack it in the handler; `tests/test_callbacks.py` picks up every subclass.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from enum import StrEnum
from typing import Any, ClassVar, Self

from bot.cases.machine import Action
from storage.models import Role

LIMIT = 64          # bytes Telegram keeps of a button's callback_data
SEP = ":"
INT_RE = r"[0-9]{1,18}"
TEXT_RE = r"[^:]{1,64}"


class CallbackDataError(ValueError):
    """Data that this class cannot build or read."""


@dataclasses.dataclass(frozen=True)
class CallbackData:
    """Base of every button's data; subclasses are frozen dataclasses with a `prefix`."""

    prefix: ClassVar[str] = ""
    _fields: ClassVar[tuple[tuple[str, type, bool, str], ...]] = ()
    _regex: ClassVar[re.Pattern[str]]

    def __init_subclass__(cls, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.prefix = prefix

    @classmethod
    def _spec(cls) -> tuple[tuple[str, type, bool, str], ...]:
        """(name, type, optional, regex) per field, read once from the annotations."""
        if "_regex" not in cls.__dict__:
            hints = typing.get_type_hints(cls)
            spec = []
            for f in dataclasses.fields(cls):
                kind, optional = _unwrap(hints[f.name])
                spec.append((f.name, kind, optional, f.metadata.get("re") or _field_re(kind)))
            cls._fields = tuple(spec)
            parts = "".join(f"(?:{SEP}({rx}))?" if opt else f"{SEP}({rx})" for _n, _k, opt, rx in spec)
            cls._regex = re.compile(re.escape(cls.prefix) + parts)
        return cls._fields

    def pack(self) -> str:
        """The wire form; raises CallbackDataError when Telegram would not carry it."""
        parts = [self.prefix]
        spec = self._spec()
        for index, (name, _kind, optional, rx) in enumerate(spec):
            value = getattr(self, name)
            if value is None and optional and all(getattr(self, later[0]) is None for later in spec[index:]):
                break
            if value is None:
                raise CallbackDataError(f"{type(self).__name__}.{name} is missing")
            text = str(value.value if isinstance(value, StrEnum) else value)
            if not re.fullmatch(rx, text):
                raise CallbackDataError(f"{type(self).__name__}.{name}={text!r} does not match {rx}")
            parts.append(text)
        data = SEP.join(parts)
        if len(data.encode()) > LIMIT:
            raise CallbackDataError(f"{data!r} is over {LIMIT} bytes")
        return data

    @classmethod
    def unpack(cls, data: str | None) -> Self:
        spec = cls._spec()
        match = cls._regex.fullmatch(data or "") if isinstance(data, str) else None
        if match is None or len(data.encode()) > LIMIT:
            raise CallbackDataError(f"not {cls.__name__} data: {data!r}")
        values = {}
        for (name, kind, _optional, _rx), text in zip(spec, match.groups(), strict=True):
            values[name] = None if text is None else _convert(kind, text)
        return cls(**values)

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        try:
            return cls.unpack(data)
        except CallbackDataError:
            return None

    @classmethod
    def stem(cls) -> str:
        """What every data of this class starts with."""
        return cls.prefix + SEP

    @classmethod
    def filter(cls) -> typing.Callable[[object], bool]:
        """A CallbackQueryHandler pattern taking well-formed data of this class only."""
        return lambda data: isinstance(data, str) and cls.parse(data) is not None

    @classmethod
    def family(cls) -> str:
        """A CallbackQueryHandler pattern taking anything with this prefix (the handler refuses)."""
        return f"^{re.escape(cls.prefix)}{SEP}"


def _unwrap(hint: Any) -> tuple[type, bool]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        kinds = [a for a in args if a is not type(None)]
        return kinds[0], len(kinds) < len(args)
    return hint, False


def _field_re(kind: type) -> str:
    if kind is int:
        return INT_RE
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return "|".join(re.escape(m.value) for m in sorted(kind, key=lambda m: -len(m.value)))
    return TEXT_RE


def _convert(kind: type, text: str) -> object:
    return int(text) if kind is int else kind(text)


def text_field(rx: str, default: Any = dataclasses.MISSING) -> Any:
    """A text field limited to `rx` (what the handler may receive, checked at pack time)."""
    return dataclasses.field(default=default, metadata={"re": rx})


# --- The report wizard ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReportPress(CallbackData, prefix="r"):
    """A button under a report question: the draft, its question counter, what, and a value."""

    draft: str = text_field(r"[0-9a-f]{1,16}")
    seq: int = text_field(r"[0-9]{1,9}")
    action: str = text_field(r"[a-z_]{1,16}")
    value: str | None = text_field(r"[^:]{1,40}", None)

    def draft_prefix(self) -> str:
        """What every button of the same draft starts with (to check the pressed message)."""
        return f"{self.stem()}{self.draft}{SEP}"


# --- Cases ------------------------------------------------------------------------------------


class CaseStep(StrEnum):
    """The card's and the case flow's buttons; a step that moves the case names its Action."""

    RECEIVE = "rcv"
    ASSIGN = "asg"
    ASK = "ask"
    CLOSE = "cls"
    ON_SCENE = "scn"
    RESOLVE = "res"
    REJECT = "rej"
    ACCEPT = "acc"
    FOLLOW_UP = "fup"
    KEEP_PEOPLE = "fpk"     # a follow-up keeps the number of people
    STOP = "stp"            # stop the follow-up being typed
    PARK = "prk"            # park the open report draft and go on with the case
    KEEP_DRAFT = "kep"      # go back to the open report draft
    DETAILS = "dtl"
    FINAL_REPORT = "fin"    # the final report (终报); 办结 (cls) follows it
    PLAN = "pln"            # the contingency plan decision (预案启动); `item` the scale chosen
    BRING_BACK = "bbk"      # petitioners persuaded and brought back (劝返)

    @property
    def action(self) -> Action | None:
        """The case machine's trigger this button fires, if any."""
        return STEP_ACTIONS.get(self)


STEP_ACTIONS = {
    CaseStep.RECEIVE: Action.RECEIVE, CaseStep.ASSIGN: Action.ASSIGN, CaseStep.CLOSE: Action.CLOSE,
    CaseStep.ON_SCENE: Action.ARRIVE, CaseStep.RESOLVE: Action.RESOLVE, CaseStep.REJECT: Action.REJECT,
    CaseStep.ACCEPT: Action.ACCEPT, CaseStep.FINAL_REPORT: Action.FINAL,
}


@dataclasses.dataclass(frozen=True)
class CasePress(CallbackData, prefix="c"):
    """A case button: `item` is a picked person (assign) or the parked flow's index; `minutes`
    the deadline chosen with an assignment."""

    step: CaseStep
    report_id: int
    item: int | None = None
    minutes: int | None = text_field(r"[0-9]{1,6}", None)


class AdoptionStep(StrEnum):
    ADOPT = "adp"
    INSTRUCT = "ins"


@dataclasses.dataclass(frozen=True)
class AdoptionPress(CallbackData, prefix="a"):
    """Adopt (采用) or add an instruction (批示), by a unit above the reporting one."""

    step: AdoptionStep
    report_id: int


class OpinionButton(StrEnum):
    """A public-opinion case's step buttons (bot.opinion.steps.Step, same values) and the
    buttons of its texts and of the evaluation form."""

    MONITOR = "mon"
    CONSULT = "con"
    DRAFT = "drf"
    APPROVE = "apv"
    REPLY = "rpl"
    SUBSIDE = "sub"
    EVALUATE = "evl"        # start or resume the evaluation (总结评估)
    SKIP_FIGURES = "fsk"    # a monitoring note without figures
    STOP = "stp"            # cancel the text being asked for


@dataclasses.dataclass(frozen=True)
class OpinionPress(CallbackData, prefix="o"):
    """A public-opinion step on the card, or a button of its texts / the evaluation form."""

    button: OpinionButton
    report_id: int


# --- Daily reports, languages, invitations, members ---------------------------------------------


class DailyStep(StrEnum):
    ZERO = "zero"
    ITEMS = "items"
    SKIP = "skip"
    PICK = "pick"


@dataclasses.dataclass(frozen=True)
class DailyPress(CallbackData, prefix="d"):
    step: DailyStep
    unit_id: int


@dataclasses.dataclass(frozen=True)
class LanguagePress(CallbackData, prefix="lang"):
    code: str = text_field(r"[A-Za-z_]{2,12}")


@dataclasses.dataclass(frozen=True)
class InvitePress(CallbackData, prefix="inv"):
    """The role button under /invite; rights are checked again on the press."""

    unit_id: int
    role: Role
    days: int = text_field(r"[0-9]{1,3}")
    uses: int = text_field(r"[0-9]{1,4}")


class MemberStep(StrEnum):
    REMOVE = "rm"
    DEACTIVATE = "off"
    REMOVE_CONFIRMED = "rm!"
    DEACTIVATE_CONFIRMED = "off!"
    CANCEL = "no"


@dataclasses.dataclass(frozen=True)
class MemberPress(CallbackData, prefix="mem"):
    step: MemberStep
    membership_id: int


# --- Ledger and statistics ----------------------------------------------------------------------


class LedgerKind(StrEnum):
    PERIOD = "p"
    FILTER = "f"
    UNIT = "u"
    LEVEL = "l"
    CATEGORY = "c"
    STATUS = "s"
    FORMAT = "x"


@dataclasses.dataclass(frozen=True)
class LedgerPress(CallbackData, prefix="lg"):
    """A choice only; the person's scope is computed again on every press."""

    kind: LedgerKind
    value: str = text_field(r"[a-z_0-9]{1,24}")


class StatsKind(StrEnum):
    PERIOD = "p"


@dataclasses.dataclass(frozen=True)
class StatsPress(CallbackData, prefix="st"):
    kind: StatsKind
    value: str = text_field(r"[a-z_]{1,12}")


# --- Tasks --------------------------------------------------------------------------------------


class TaskNewStep(StrEnum):
    SKIP = "skip"
    KIND = "kind"
    CADENCE = "cad"
    CREATE = "ok"
    CANCEL = "x"


@dataclasses.dataclass(frozen=True)
class TaskNewPress(CallbackData, prefix="tn"):
    step: TaskNewStep
    value: str | None = text_field(r"[\w*-]{1,32}", None)


class TaskStep(StrEnum):
    FILE = "f"
    CHOOSE = "c"
    DONE = "d"
    PREFILL = "p"
    SUBMIT = "s"
    CANCEL = "x"


@dataclasses.dataclass(frozen=True)
class TaskPress(CallbackData, prefix="tk"):
    """A button of the filing flow, stamped with the question it answers."""

    step: TaskStep
    period_id: int
    index: int
    option: int | None = None


# --- Sign-off (审签) and changing a submitted report (bot.signoff) -----------------------------


class SignoffStep(StrEnum):
    SIGN = "ok"            # 审签
    EDIT = "edt"           # 修改后审签
    SEND_BACK = "ret"      # 退回补充
    COMPLETE = "fix"       # the reporter adds what was missing


@dataclasses.dataclass(frozen=True)
class SignoffPress(CallbackData, prefix="s"):
    """The approver's request buttons, and the reporter's button on a report sent back."""

    step: SignoffStep
    report_id: int


class EditStep(StrEnum):
    FIELD = "f"
    DONE = "done"
    CANCEL = "x"


@dataclasses.dataclass(frozen=True)
class EditPress(CallbackData, prefix="e"):
    """The field editor of a submitted report: a field (by index), finish, or cancel."""

    step: EditStep
    report_id: int
    field: int | None = text_field(r"[0-9]{1,2}", None)


def all_kinds() -> list[type[CallbackData]]:
    """Every kind of button (for tests and for checking prefixes are unique)."""
    return list(CallbackData.__subclasses__())


# --- Disputes (矛盾纠纷) ------------------------------------------------------------------------


class DisputeVerb(StrEnum):
    """The dispute card's buttons (a Feedback button carries the transfer's number)."""

    ASSIGN = "as"
    APPROVE = "ap"
    MEDIATE = "md"
    MOVE_UP = "up"
    SUPERVISE = "sv"
    TRANSFER = "tr"
    FEEDBACK = "fb"
    RESULT = "rs"
    CLOSE = "cl"


@dataclasses.dataclass(frozen=True)
class DisputePress(CallbackData, prefix="dp"):
    verb: DisputeVerb
    number: int


@dataclasses.dataclass(frozen=True)
class DisputeChoice(CallbackData, prefix="dq"):
    """A choice under a dispute step's question: a unit, a leader, an outcome, a method, days."""

    value: str = text_field(r"\w{1,24}")


@dataclasses.dataclass(frozen=True)
class DisputeIntakePress(CallbackData, prefix="di"):
    """A button of the /dispute intake: the parties' kind, the level, register, cancel."""

    value: str = text_field(r"\w{1,16}")


class InterruptStep(StrEnum):
    GO_ON = "go"        # go on writing the case text
    ASIDE = "aside"     # put it aside (on the person's shelf)
    BACK = "back"       # take it back from the shelf


@dataclasses.dataclass(frozen=True)
class InterruptPress(CallbackData, prefix="k"):
    """The choice offered when a command interrupts a case text (handlers/interrupt.py)."""

    step: InterruptStep
