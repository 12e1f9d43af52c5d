"""A Telegram Bot API emulator that a real python-telegram-bot Application can poll.

Tests and the sandbox (`python -m bot sandbox`) start it, point
`ApplicationBuilder().base_url(...)` at it, inject updates as simulated users and read back what
the bot sent. Every request is checked against the official Bot API description in
`bot/sandbox/data/telegram-bot-api.json`; anything Telegram would reject is recorded in
`violations` and answered the way Telegram answers it (400), so a bug that would only show up in
production fails the test instead. Observers (`observe`) hear of every message as it happens:
the sandbox's page shows them live.

Reading order: spec validation, text-entity parsing (HTML / MarkdownV2 / Markdown), rate limits,
the records tests inspect, simulated users, and finally the server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import re
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

SPEC_PATH = Path(__file__).parent / "data" / "telegram-bot-api.json"
PRIMITIVES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})
ARRAY = "Array of "


# --------------------------------------------------------------------------------------------
# The spec and a validator driven by it
# --------------------------------------------------------------------------------------------

_DISCRIMINATOR = re.compile(r'(?:must be|always) "?([\w-]+)"?')


class Spec:
    """Methods and types of the official Bot API description, indexed for lookups."""

    def __init__(self, data: dict) -> None:
        self.version: str = data.get("version", "")
        self.methods: dict[str, dict] = data["methods"]
        self.types: dict[str, dict] = data["types"]
        self.method_fields = {n: _by_name(m) for n, m in self.methods.items()}
        self.type_fields = {n: _by_name(t) for n, t in self.types.items()}
        self._lower = {name.lower(): name for name in self.methods}

    def method_name(self, name: str) -> str | None:
        """Telegram matches method names case-insensitively; this returns the spec spelling."""
        return self._lower.get(name.lower())

    def discriminator(self, type_name: str) -> tuple[str, str] | None:
        """(field, value) that tells this union member apart, e.g. ("type", "chat")."""
        fields = self.types.get(type_name, {}).get("fields") or []
        if fields and (match := _DISCRIMINATOR.search(fields[0].get("description", ""))):
            return fields[0]["name"], match.group(1)
        return None


def _by_name(owner: dict) -> dict[str, dict]:
    return {f["name"]: f for f in owner.get("fields", [])}


@cache
def load_spec(path: str = str(SPEC_PATH)) -> Spec:
    return Spec(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class UploadedFile:
    """A multipart file part; stands for the spec's InputFile."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


def _describe(value: Any) -> str:
    if isinstance(value, UploadedFile):
        return "an uploaded file"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, bytes) else "bytes"
    return f"{type(value).__name__} {text[:60]}"


def _primitive_ok(value: Any, type_name: str) -> bool:
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "String":
        return isinstance(value, str)
    return isinstance(value, UploadedFile)


class Validator:
    """Checks decoded values against spec type expressions; returns human-readable errors."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.extra: dict[str, Callable[[dict, str], list[str]]] = dict(_TYPE_CHECKS)
        for name in spec.types:
            if name.startswith("InputMedia") and "caption" in spec.type_fields[name]:
                self.extra[name] = _check_media_caption

    def check_fields(self, obj: dict, fields: dict[str, dict], prefix: str = "") -> list[str]:
        kind = "field" if prefix else "parameter"
        errors = [f"{prefix}{n}: unknown {kind}" for n in obj if n not in fields]
        for name, spec_field in fields.items():
            if name in obj:
                errors += self.check(obj[name], spec_field["types"], f"{prefix}{name}")
            elif spec_field["required"]:
                errors.append(f"{prefix}{name}: required {kind} is missing")
        return errors

    def check(self, value: Any, types: list[str], path: str) -> list[str]:
        if len(types) > 1 and all(t.startswith(ARRAY) for t in types):
            # "Array of InputMediaPhoto or Array of InputMediaVideo": Telegram mixes them freely.
            return self._check_array(value, [t[len(ARRAY):] for t in types], path)
        if len(types) == 1:
            return self._check_one(value, types[0], path)
        return self._check_union(value, types, path)

    def _check_union(self, value: Any, types: list[str], path: str) -> list[str]:
        outcomes = [(self._shape_matches(value, t), self._check_one(value, t, path)) for t in types]
        if any(not errors for _, errors in outcomes):
            return []
        shaped = [errors for matches, errors in outcomes if matches]
        if shaped:
            return min(shaped, key=len)
        return [f"{path}: expected {' or '.join(types)}, got {_describe(value)}"]

    def _shape_matches(self, value: Any, type_name: str) -> bool:
        """Whether `value` is plausibly meant as this type, to report the most relevant errors."""
        if type_name.startswith(ARRAY):
            return isinstance(value, list)
        if type_name in PRIMITIVES:
            return _primitive_ok(value, type_name)
        required = [n for n, f in self.spec.type_fields.get(type_name, {}).items() if f["required"]]
        return isinstance(value, dict) and all(n in value for n in required)

    def _check_one(self, value: Any, type_name: str, path: str) -> list[str]:
        if type_name.startswith(ARRAY):
            return self._check_array(value, [type_name[len(ARRAY):]], path)
        if type_name in PRIMITIVES:
            ok = _primitive_ok(value, type_name)
            return [] if ok else [f"{path}: expected {type_name}, got {_describe(value)}"]
        if type_name == "KeyboardButton" and isinstance(value, str):
            return [] if value else [f"{path}: button text must be non-empty"]
        return self._check_object(value, type_name, path)

    def _check_object(self, value: Any, type_name: str, path: str) -> list[str]:
        info = self.spec.types.get(type_name)
        if info is None:
            return [f"{path}: the spec names an unknown type {type_name}"]
        if not isinstance(value, dict):
            return [f"{path}: expected a JSON object ({type_name}), got {_describe(value)}"]
        if "subtypes" in info:
            return self._check_subtyped(value, type_name, info["subtypes"], path)
        if "fields" not in info:
            return []  # placeholders such as CallbackGame carry no fields
        errors = self.check_fields(value, self.spec.type_fields[type_name], f"{path}.")
        if not errors and (extra := self.extra.get(type_name)):
            errors = extra(value, path)
        return errors

    def _check_subtyped(self, value: dict, type_name: str, subtypes: list[str],
                        path: str) -> list[str]:
        tags = {s: self.spec.discriminator(s) for s in subtypes}
        for sub, tag in tags.items():
            if tag and value.get(tag[0]) == tag[1]:
                return self._check_one(value, sub, path)
        known = [tag for tag in tags.values() if tag]
        if known:
            key = known[0][0]
            allowed = ", ".join(tag[1] for tag in known)
            return [f"{path}.{key}: {value.get(key)!r} is not a {type_name} (one of {allowed})"]
        return self._check_union(value, subtypes, path)

    def _check_array(self, value: Any, item_types: list[str], path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {_describe(value)}"]
        errors: list[str] = []
        for index, item in enumerate(value):
            errors += self.check(item, item_types, f"{path}[{index}]")
        return errors


# Fields that are not "actions" of a button; the rest are mutually exclusive.
_BUTTON_DECORATIONS = frozenset({"text", "icon_custom_emoji_id", "style"})
_BUTTON_STYLES = frozenset({"danger", "success", "primary"})
_URL_SCHEMES = ("http://", "https://", "tg://")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def _check_button_common(button: dict, path: str) -> list[str]:
    errors = [] if button.get("text") else [f"{path}.text: button text must be non-empty"]
    if "style" in button and button["style"] not in _BUTTON_STYLES:
        errors.append(f"{path}.style: must be one of {sorted(_BUTTON_STYLES)}")
    return errors


def _check_inline_button(button: dict, path: str) -> list[str]:
    errors = _check_button_common(button, path)
    actions = sorted(k for k in button if k not in _BUTTON_DECORATIONS)
    if len(actions) != 1:
        errors.append(f"{path}: an InlineKeyboardButton needs exactly one action field, "
                      f"got {actions or 'none'}")
    data = button.get("callback_data")
    if isinstance(data, str) and not 1 <= len(data.encode()) <= 64:
        errors.append(f"{path}.callback_data: must be 1-64 bytes, got {len(data.encode())}")
    url = button.get("url")
    if isinstance(url, str) and not url.startswith(_URL_SCHEMES):
        errors.append(f"{path}.url: {url!r} is not an http(s):// or tg:// URL")
    return errors


def _check_keyboard_button(button: dict, path: str) -> list[str]:
    errors = _check_button_common(button, path)
    actions = sorted(k for k in button if k not in _BUTTON_DECORATIONS)
    if len(actions) > 1:
        errors.append(f"{path}: a KeyboardButton may have at most one action field, got {actions}")
    return errors


def _check_bot_command(command: dict, path: str) -> list[str]:
    errors = []
    if not _COMMAND.fullmatch(command["command"]):
        errors.append(f"{path}.command: {command['command']!r} must be 1-32 characters "
                      "of a-z, 0-9 and _")
    if not 1 <= len(command["description"]) <= 256:
        errors.append(f"{path}.description: must be 1-256 characters, "
                      f"got {len(command['description'])}")
    return errors


def _check_media_caption(media: dict, path: str) -> list[str]:
    return check_formatted(media.get("caption"), media.get("parse_mode"), 0, 1024,
                           f"{path}.caption")


_TYPE_CHECKS: dict[str, Callable[[dict, str], list[str]]] = {
    "InlineKeyboardButton": _check_inline_button,
    "KeyboardButton": _check_keyboard_button,
    "BotCommand": _check_bot_command,
}


def check_formatted(value: Any, parse_mode: Any, low: int, high: int, path: str) -> list[str]:
    """Length limits that Telegram applies to text after parsing entities out of it."""
    if not isinstance(value, str) or not isinstance(parse_mode, str | None):
        return []  # type errors are reported by the spec check
    try:
        length = len(parse_text(value, parse_mode).text)
    except ParseError as exc:
        return [f"{path}: can't parse entities: {exc}"]
    if low <= length <= high:
        return []
    if length == 0:
        return [f"{path}: text is empty after entity parsing"]
    return [f"{path}: must be {low}-{high} characters after entity parsing, got {length}"]


def method_checks(method: str, params: dict, fields: dict[str, dict]) -> list[str]:
    """Rules the spec states in prose rather than in its type tables."""
    errors: list[str] = []
    if method in ("sendMessage", "editMessageText"):
        errors += check_formatted(params.get("text"), params.get("parse_mode"), 1, 4096, "text")
    if method == "editMessageText" and "text" not in params and "rich_message" not in params:
        errors.append("text: required parameter is missing")
    if "caption" in fields:
        errors += check_formatted(params.get("caption"), params.get("parse_mode"), 0, 1024,
                                  "caption")
    if method == "answerCallbackQuery":
        errors += check_formatted(params.get("text"), None, 0, 200, "text")
    by_id = "chat_id" in params and "message_id" in params
    if method.startswith("editMessage") and not params.get("inline_message_id") and not by_id:
        errors.append("chat_id/message_id: required unless inline_message_id is given")
    return errors + _count_checks(method, params)


def _count_checks(method: str, params: dict) -> list[str]:
    media, commands = params.get("media"), params.get("commands")
    if method == "sendMediaGroup" and isinstance(media, list) and not 2 <= len(media) <= 10:
        return [f"media: must contain 2-10 items, got {len(media)}"]
    if method == "setMyCommands" and isinstance(commands, list) and len(commands) > 100:
        return [f"commands: at most 100 commands, got {len(commands)}"]
    return []


_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def coerce(raw: Any, types: list[str] | None) -> Any:
    """Turn a form value (always a string) into what the spec expects, so it can be checked.

    PTB JSON-encodes non-string values in forms; plain strings are sent as they are, so only
    the expected type tells whether "123" is an Integer or a String.
    """
    if not isinstance(raw, str):
        return raw
    structured = types is None or any(t not in PRIMITIVES for t in types)
    if structured and raw[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(raw)
    types = types or []
    if "Integer" in types and _INT.fullmatch(raw):
        return int(raw)
    if "Float" in types and _FLOAT.fullmatch(raw):
        return float(raw)
    if "Boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def attach_refs(value: Any) -> Iterator[str]:
    """Names of multipart parts referenced as attach://name anywhere inside `value`."""
    if isinstance(value, str) and value.startswith("attach://"):
        yield value[len("attach://"):]
    elif isinstance(value, dict):
        for item in value.values():
            yield from attach_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from attach_refs(item)


def attachment_errors(params: dict, files: dict[str, UploadedFile]) -> list[str]:
    refs = set(attach_refs(params))
    errors = [f"attach://{name}: no uploaded file part has that name" for name in refs - set(files)]
    errors += [f"{name}: uploaded file part is neither a parameter nor attached"
               for name in files if name not in params and name not in refs]
    return errors + [error for name, upload in files.items() for error in _upload_errors(name, upload)]


# Bots may upload photos up to 10 MB and other files up to 50 MB; a photo must be an image.
_UPLOAD_LIMITS = {"photo": 10 * 1024 * 1024}
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")


def _upload_errors(name: str, upload: UploadedFile) -> list[str]:
    limit = _UPLOAD_LIMITS.get(name, 50 * 1024 * 1024)
    if not upload.data:
        return [f"{name}: file must be non-empty"]
    if len(upload.data) > limit:
        return [f"{name}: {len(upload.data)} bytes is over the {limit} bytes bots may upload"]
    if name == "photo" and not upload.data.startswith(_IMAGE_MAGIC):
        return [f"{name}: IMAGE_PROCESS_FAILED (the upload is not a JPEG, PNG, GIF or WebP image)"]
    return []


# --------------------------------------------------------------------------------------------
# Formatted text: what the user sees after Telegram parses entities out of it
# --------------------------------------------------------------------------------------------


class ParseError(ValueError):
    """Telegram would answer "Bad Request: can't parse entities: ..."."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Entity offsets and lengths are measured in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_text(text: str, parse_mode: str | None, entities: list | None = None) -> ParsedText:
    """Plain text and entities as Telegram stores them (including its whitespace trimming)."""
    mode = (parse_mode or "").lower()
    if not mode:
        parsed = ParsedText(text, [e for e in entities or [] if isinstance(e, dict)])
    elif mode == "html":
        parsed = _HtmlParser(text).parse()
    elif mode == "markdownv2":
        parsed = _MarkdownV2Parser(text).parse()
    elif mode == "markdown":
        parsed = _parse_markdown(text)
    else:
        raise ParseError(f"unsupported parse_mode {parse_mode!r}")
    return _strip(parsed)


def text_length(text: str, parse_mode: str | None = None) -> int:
    """Characters Telegram counts against the 4096 / 1024 limits."""
    return len(parse_text(text, parse_mode).text)


def _strip(parsed: ParsedText) -> ParsedText:
    text = parsed.text
    body = text.strip()
    shift, limit = utf16_len(text[: len(text) - len(text.lstrip())]), utf16_len(body)
    entities = []
    for entity in parsed.entities:
        start = max(entity.get("offset", 0) - shift, 0)
        end = min(entity.get("offset", 0) + entity.get("length", 0) - shift, limit)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(body, entities)


@dataclass
class _Open:
    name: str
    start: int
    entity: dict | None


class _Builder:
    """Accumulates plain text and entities while a markup parser walks its source."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.pos = 0
        self.stack: list[_Open] = []
        self.entities: list[dict] = []

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.pos += utf16_len(text)

    def close(self, opened: _Open, entity: dict | None) -> None:
        if entity and self.pos > opened.start:
            self.entities.append({**entity, "offset": opened.start,
                                  "length": self.pos - opened.start})

    def result(self) -> ParsedText:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.out), ordered)


_HTML_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(r"""<(/?)([a-zA-Z][\w-]*)((?:\s+[^\s=>/"']+(?:\s*=\s*(?:"[^"]*"|'[^']*'|"""
                  r"""[^\s>"']+))?)*)\s*(/?)>""")
_ATTR = re.compile(r"""([^\s=>/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_HTML_STYLES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "code": "code", "pre": "pre",
}
_HTML_TAGS = frozenset(_HTML_STYLES) | {"span", "a", "blockquote", "tg-emoji", "tg-time"}


def _decode_entity(name: str) -> str:
    if name in _NAMED:
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise ParseError(f"invalid character reference &{name};")
    return chr(code)


def _unescape(text: str) -> str:
    return _HTML_ENTITY.sub(lambda m: _decode_entity(m.group(1)), text)


def _attributes(source: str) -> dict[str, str]:
    found = {}
    for match in _ATTR.finditer(source):
        value = next((v for v in match.group(2, 3, 4) if v is not None), "")
        found[match.group(1).lower()] = _unescape(value)
    return found


class _HtmlParser(_Builder):
    """Telegram's HTML subset: known tags only, properly nested, '<' always starts a tag."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.src = source

    def parse(self) -> ParsedText:
        index = 0
        while index < len(self.src):
            index = self._step(index)
        if self.stack:
            name = self.stack[-1].name
            raise ParseError(f"can't find end tag corresponding to start tag <{name}>")
        return self.result()

    def _step(self, index: int) -> int:
        char = self.src[index]
        if char == "<":
            return self._tag(index)
        if char == "&" and (match := _HTML_ENTITY.match(self.src, index)):
            self.emit(_decode_entity(match.group(1)))
            return match.end()
        self.emit(char)
        return index + 1

    def _tag(self, index: int) -> int:
        match = _TAG.match(self.src, index)
        offset = len(self.src[:index].encode())
        if not match or match.group(4):
            raise ParseError(f"unsupported start tag at byte offset {offset} (escape '<' as &lt;)")
        name = match.group(2).lower()
        if match.group(1):
            self._close_tag(name, offset)
        else:
            self._open_tag(name, _attributes(match.group(3)), offset)
        return match.end()

    def _open_tag(self, name: str, attrs: dict[str, str], offset: int) -> None:
        if name not in _HTML_TAGS:
            raise ParseError(f'unsupported start tag "{name}" at byte offset {offset}')
        self.stack.append(_Open(name, self.pos, self._entity_for(name, attrs)))

    def _close_tag(self, name: str, offset: int) -> None:
        if not self.stack:
            raise ParseError(f'unexpected end tag "{name}" at byte offset {offset}')
        opened = self.stack.pop()
        if opened.name != name:
            raise ParseError(f'unmatched end tag at byte offset {offset}, '
                             f'expected "</{opened.name}>", found "</{name}>"')
        self.close(opened, opened.entity)

    def _entity_for(self, name: str, attrs: dict[str, str]) -> dict | None:
        if name == "code" and self.stack and self.stack[-1].name == "pre":
            language = attrs.get("class", "").removeprefix("language-")
            if language and self.stack[-1].entity is not None:
                self.stack[-1].entity["language"] = language
            return None  # <pre><code class=...> is one pre entity with a language
        if name in _HTML_STYLES:
            return {"type": _HTML_STYLES[name]}
        return self._special_entity(name, attrs)

    @staticmethod
    def _special_entity(name: str, attrs: dict[str, str]) -> dict | None:
        if name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise ParseError('tag "span" must have class "tg-spoiler"')
            return {"type": "spoiler"}
        if name == "a":
            return {"type": "text_link", "url": attrs["href"]} if attrs.get("href") else None
        if name == "blockquote":
            return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
        if name == "tg-emoji":
            if "emoji-id" not in attrs:
                raise ParseError('tag "tg-emoji" must have attribute "emoji-id"')
            return {"type": "custom_emoji", "custom_emoji_id": attrs["emoji-id"]}
        if not attrs.get("unix", "").isdigit():
            raise ParseError('tag "tg-time" must have a numeric attribute "unix"')
        return {"type": "date_time", "unix_time": int(attrs["unix"])}


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_STYLES = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough",
               "||": "spoiler"}


class _MarkdownV2Parser(_Builder):
    """MarkdownV2 as documented: reserved characters must be escaped, entities must nest."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.src = source
        self.quote: dict | None = None

    def parse(self) -> ParsedText:
        index = 0
        while index < len(self.src):
            index = self._step(index)
        self._end_quote()
        if self.stack:
            raise ParseError(f"can't find end of the entity started by {self.stack[-1].name!r}")
        return self.result()

    def _step(self, index: int) -> int:
        if (index == 0 or self.src[index - 1] == "\n") and (
                moved := self._line_start(index)) != index:
            return moved
        src, char = self.src, self.src[index]
        if char == "\\":
            return self._escape(index)
        if src.startswith("```", index):
            return self._pre(index)
        if char == "`":
            return self._code(index)
        if char == "]":
            return self._link_end(index)
        if char == "[" or src.startswith("![", index):
            self.stack.append(_Open("[", self.pos, {"emoji": True} if char == "!" else None))
            return index + (2 if char == "!" else 1)
        if marker := next((m for m in ("__", "||", "*", "_", "~") if src.startswith(m, index)), ""):
            return self._toggle(marker, index)
        if char in _MD2_RESERVED:
            raise ParseError(f"character '{char}' is reserved and must be escaped with '\\'")
        self.emit(char)
        return index + 1

    def _line_start(self, index: int) -> int:
        expandable = self.src.startswith("**>", index)
        if not expandable and not self.src.startswith(">", index):
            self._end_quote()
            return index
        if self.quote is None:
            kind = "expandable_blockquote" if expandable else "blockquote"
            self.quote = {"type": kind, "offset": self.pos}
        return index + (3 if expandable else 1)

    def _end_quote(self) -> None:
        if self.quote is None:
            return
        # The line break before the next, unquoted line is not part of the quote.
        end = self.pos - (1 if self.out and self.out[-1].endswith("\n") else 0)
        if end > self.quote["offset"]:
            self.entities.append({"type": self.quote["type"], "offset": self.quote["offset"],
                                  "length": end - self.quote["offset"]})
        self.quote = None

    def _escape(self, index: int) -> int:
        following = self.src[index + 1: index + 2]
        if following and 1 <= ord(following) <= 126:
            self.emit(following)
            return index + 2
        self.emit("\\")
        return index + 1

    def _read_until(self, index: int, terminator: str) -> tuple[str, int]:
        """Text up to an unescaped terminator, with escapes resolved, and the index after it."""
        chunk: list[str] = []
        while index < len(self.src):
            if self.src.startswith(terminator, index):
                return "".join(chunk), index + len(terminator)
            step = 2 if self.src[index] == "\\" and index + 1 < len(self.src) else 1
            chunk.append(self.src[index + step - 1])
            index += step
        raise ParseError(f"can't find end of the entity: missing {terminator!r}")

    def _code(self, index: int) -> int:
        content, after = self._read_until(index + 1, "`")
        opened = _Open("`", self.pos, None)
        self.emit(content)
        self.close(opened, {"type": "code"})
        return after

    def _pre(self, index: int) -> int:
        body, after = self._read_until(index + 3, "```")
        language, _, content = body.partition("\n") if "\n" in body else ("", "", body)
        opened = _Open("```", self.pos, None)
        self.emit(content)
        self.close(opened, {"type": "pre", **({"language": language} if language else {})})
        return after

    def _link_end(self, index: int) -> int:
        if not self.stack or self.stack[-1].name != "[":
            raise ParseError("character ']' is reserved and must be escaped with '\\'")
        if not self.src.startswith("(", index + 1):
            raise ParseError("a link's ']' must be followed by '(url)'")
        url, after = self._read_until(index + 2, ")")
        opened = self.stack.pop()
        if opened.entity:
            self.close(opened, {"type": "custom_emoji", "custom_emoji_id": url.split("id=")[-1]})
        else:
            self.close(opened, {"type": "text_link", "url": url})
        return after

    def _toggle(self, marker: str, index: int) -> int:
        if marker == "||" and self._ends_expandable_quote(index):
            self._end_quote()
            return index + 2
        if any(opened.name == marker for opened in self.stack):
            opened = self.stack.pop()
            if opened.name != marker:
                raise ParseError(f"entities {opened.name!r} and {marker!r} are not nested properly")
            self.close(opened, {"type": _MD2_STYLES[marker]})
        else:
            self.stack.append(_Open(marker, self.pos, None))
        return index + len(marker)

    def _ends_expandable_quote(self, index: int) -> bool:
        at_line_end = self.src[index + 2: index + 3] in ("", "\n")
        in_quote = self.quote is not None and self.quote["type"] == "expandable_blockquote"
        return at_line_end and in_quote and all(o.name != "||" for o in self.stack)


_MD1 = re.compile(r"```(?:[^\n`]*\n)?(.*?)```|`([^`]*)`|\*([^*]*)\*|_([^_]*)_"
                  r"|\[([^\]]*)\]\(([^)]*)\)|\\([_*`\[])", re.S)


def _parse_markdown(source: str) -> ParsedText:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    builder, last = _Builder(), 0
    for match in _MD1.finditer(source):
        _emit_markdown_plain(builder, source[last: match.start()])
        opened = _Open("md", builder.pos, None)
        kinds = ("pre", "code", "bold", "italic", "text_link")
        group = next(i for i in range(1, 8) if match.group(i) is not None)
        builder.emit(match.group(group))
        if group <= 5:
            entity = {"type": kinds[group - 1]}
            builder.close(opened, {**entity, "url": match.group(6)} if group == 5 else entity)
        last = match.end()
    _emit_markdown_plain(builder, source[last:])
    return builder.result()


def _emit_markdown_plain(builder: _Builder, text: str) -> None:
    if stray := next((c for c in "*_`[" if c in text), None):
        raise ParseError(f"can't find end of the entity started by {stray!r}")
    builder.emit(text)


# --------------------------------------------------------------------------------------------
# Telegram's flood limits
# --------------------------------------------------------------------------------------------

DEFAULT_LIMITS = {"per_chat_per_s": 1, "per_group_per_min": 20, "global_per_s": 30}
_TOLERANCE = 0.05  # sends this much inside a window still count as outside it


def _window_wait(stamps: list[float], now: float, window: float, limit: int | None,
                 items: int) -> float | None:
    """Seconds until `items` more events fit the sliding window, or None if they fit now."""
    if not limit:
        return None
    span = window - _TOLERANCE
    stamps[:] = [t for t in stamps if now - t < span]
    excess = len(stamps) + items - limit
    if excess <= 0:
        return None
    if items > limit:
        return window
    return stamps[excess - 1] + span - now


class RateLimiter:
    """Sliding windows per chat, per group and overall, read from an injectable clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.per_chat: dict[Any, list[float]] = defaultdict(list)
        self.per_group: dict[Any, list[float]] = defaultdict(list)
        self.overall: list[float] = []

    def retry_after(self, limits: dict, chat_id: Any, items: int) -> int | None:
        now = self.clock()
        # A media group is one burst for the per-chat limit, or it could never be sent at 1/s.
        waits = [
            _window_wait(self.per_chat[chat_id], now, 1.0, limits.get("per_chat_per_s"), 1),
            _window_wait(self.overall, now, 1.0, limits.get("global_per_s"), items),
        ]
        if _is_group(chat_id):
            waits.append(_window_wait(self.per_group[chat_id], now, 60.0,
                                      limits.get("per_group_per_min"), items))
        pending = [w for w in waits if w is not None]
        return max(1, math.ceil(max(pending))) if pending else None

    def record(self, chat_id: Any, items: int) -> None:
        now = self.clock()
        self.per_chat[chat_id].append(now)
        self.overall.extend([now] * items)
        if _is_group(chat_id):
            self.per_group[chat_id].extend([now] * items)


def _is_group(chat_id: Any) -> bool:
    return isinstance(chat_id, int) and chat_id < 0


# --------------------------------------------------------------------------------------------
# What tests inspect
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    """One API call as the emulator saw it."""

    method: str
    params: dict
    time: float
    status: int = 200
    files: dict[str, UploadedFile] = field(default_factory=dict)
    response: dict | None = None


@dataclass
class SentMessage:
    """A message the bot created; `text` stays as first sent, `edits` lists later texts."""

    chat_id: int
    message_id: int
    text: str | None
    reply_markup: dict | None
    reply_to_message_id: int | None
    method: str
    params: dict
    time: float
    index: int = 0
    edits: list[str] = field(default_factory=list)
    deleted: bool = False
    message: dict = field(default_factory=dict)  # current state, as Telegram would return it

    @property
    def current_text(self) -> str | None:
        return self.edits[-1] if self.edits else self.text

    def buttons(self) -> list[dict]:
        """Inline buttons currently attached, row by row flattened."""
        markup = self.reply_markup or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def versions(self) -> list[str]:
        return [t for t in (self.text, *self.edits) if t is not None]


@dataclass
class SimChat:
    id: int
    title: str
    type: str

    def as_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "title": self.title}


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


class ApiError(Exception):
    """An error answer: status, Telegram's description and optionally retry_after."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def body(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.status,
                                "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class _FailRule:
    method: str
    status: int
    retry_after: int | None
    chat_id: int | None
    remaining: int
    description: str | None

    def error(self) -> ApiError:
        retry = self.retry_after if self.retry_after is not None else (
            1 if self.status == 429 else None)
        return ApiError(self.status, self.description or _default_description(self.status, retry),
                        retry)


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    if status == 403:
        return "Forbidden: bot was blocked by the user"
    if status == 400:
        return "Bad Request: injected failure"
    return "Bad Gateway" if status == 502 else "Internal Server Error"


@dataclass
class _Call:
    method: str
    params: dict
    files: dict[str, UploadedFile]


# --------------------------------------------------------------------------------------------
# Simulated users
# --------------------------------------------------------------------------------------------


class SimUser:
    """A person talking to the bot; each action injects one update and returns its payload."""

    def __init__(self, emu: BotAPIEmulator, user_id: int, first_name: str,
                 language_code: str | None, username: str | None) -> None:
        self.emu, self.id, self.first_name = emu, user_id, first_name
        self.language_code, self.username = language_code, username

    def as_dict(self) -> dict:
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    async def send(self, text: str, *, chat: SimChat | None = None,
                   reply_to: int | None = None) -> dict:
        content: dict[str, Any] = {"text": text}
        if command := re.match(r"/\S+", text):
            content["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": utf16_len(command.group())}]
        return await self.emu._user_message(self, chat, content, reply_to)

    async def tap_reply_button(self, text: str, *, chat: SimChat | None = None) -> dict:
        return await self.send(text, chat=chat)

    async def send_location(self, lat: float, lon: float, *, chat: SimChat | None = None) -> dict:
        content = {"location": {"latitude": lat, "longitude": lon}}
        return await self.emu._user_message(self, chat, content)

    async def send_photo(self, *, caption: str | None = None, chat: SimChat | None = None,
                         content: bytes = b"\xff\xd8\xff fake jpeg") -> dict:
        stored = self.emu.store_file(content, "photos", ".jpg")
        sizes = [_photo_size(stored, 90, 67), _photo_size(stored, 1280, 960)]
        body: dict[str, Any] = {"photo": sizes, **({"caption": caption} if caption else {})}
        return await self.emu._user_message(self, chat, body)

    async def send_document(self, file_name: str = "a.pdf", *, chat: SimChat | None = None,
                            content: bytes = b"%PDF-1.4 fake", mime_type: str = "application/pdf",
                            caption: str | None = None) -> dict:
        stored = self.emu.store_file(content, "documents", Path(file_name).suffix)
        document = {**_file_ids(stored), "file_name": file_name, "mime_type": mime_type}
        body: dict[str, Any] = {"document": document, **({"caption": caption} if caption else {})}
        return await self.emu._user_message(self, chat, body)

    async def send_voice(self, *, chat: SimChat | None = None, duration: int = 3,
                         content: bytes = b"OggS fake") -> dict:
        stored = self.emu.store_file(content, "voice", ".oga")
        voice = {**_file_ids(stored), "duration": duration, "mime_type": "audio/ogg"}
        return await self.emu._user_message(self, chat, {"voice": voice})

    async def send_sticker(self, *, chat: SimChat | None = None, emoji: str = "👍") -> dict:
        stored = self.emu.store_file(b"RIFF fake webp", "stickers", ".webp")
        sticker = {**_file_ids(stored), "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False, "emoji": emoji}
        return await self.emu._user_message(self, chat, {"sticker": sticker})

    async def send_contact(self, phone: str, *, chat: SimChat | None = None,
                           first_name: str | None = None) -> dict:
        contact = {"phone_number": phone, "first_name": first_name or self.first_name,
                   "user_id": self.id}
        return await self.emu._user_message(self, chat, {"contact": contact})

    async def join(self, chat: SimChat) -> dict:
        return await self.emu._user_message(self, chat, {"new_chat_members": [self.as_dict()]})

    async def add_bot_to(self, chat: SimChat) -> dict:
        self.emu.chats[chat.id] = chat
        self.emu.left_chats.discard(chat.id)
        members = [self.emu.bot_user()]
        return await self.emu._user_message(self, chat, {"new_chat_members": members})

    async def press(self, message: SentMessage, data: str | None = None, *,
                    text: str | None = None) -> dict:
        """Tap an inline button of a bot message, chosen by callback_data or by label."""
        assert not message.deleted, f"message {message.message_id} was deleted by the bot"
        button = _choose_button(message, data, text)
        assert "callback_data" in button, f"button {button} has no callback_data to press"
        return await self.emu._callback(self, message.chat_id, dict(message.message),
                                        button["callback_data"])

    async def press_raw(self, chat: SimChat | None, message_id: int, data: str) -> dict:
        """A callback query with arbitrary (possibly forged) data for any message id."""
        chat_id = chat.id if chat else self.id
        stored = self.emu._messages.get((chat_id, message_id))
        message = dict(stored) if stored else {
            "chat": self.emu._chat_dict(chat_id), "message_id": message_id, "date": 0}
        return await self.emu._callback(self, chat_id, message, data)


def _file_ids(stored: StoredFile) -> dict:
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data)}


def _photo_size(stored: StoredFile, width: int, height: int) -> dict:
    return {**_file_ids(stored), "width": width, "height": height}


def _choose_button(message: SentMessage, data: str | None, text: str | None) -> dict:
    buttons = message.buttons()
    listing = "; ".join(f"{b.get('text')!r} -> {b.get('callback_data')!r}" for b in buttons)
    if data is not None:
        found = [b for b in buttons if b.get("callback_data") == data]
    elif text is not None:
        found = [b for b in buttons if b.get("text") == text] or [
            b for b in buttons if text in b.get("text", "")]
    else:
        found = buttons
    if len(found) != 1:
        wanted = f"data={data!r}" if data is not None else f"text={text!r}"
        raise AssertionError(f"{len(found)} buttons match {wanted} on message "
                             f"{message.message_id} ({message.current_text!r}): [{listing}]")
    return found[0]


def _shallow(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _content_key(method: str) -> str:
    """sendVideoNote -> video_note: the Message field a send method fills."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method.removeprefix("send")).lower()


async def _poll(check: Callable[[], Any], seconds: float, interval: float = 0.01) -> Any:
    """Re-evaluate `check` until it returns something truthy or `seconds` pass.

    Polling rather than events because predicates may look at anything, e.g. the database.
    """
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------

_CHAT_TARGETED = re.compile(r"^(send|copy|forward|edit|pin|unpin)")
_COPYING = ("copyMessage", "forwardMessage")
# Bot API 7.0 replaced these and dropped them from the docs, but Telegram still accepts them.
_LEGACY_PARAMS = {
    "reply_to_message_id": ("reply_parameters", {"types": ["Integer"], "required": False}),
    "allow_sending_without_reply": ("reply_parameters",
                                    {"types": ["Boolean"], "required": False}),
    "disable_web_page_preview": ("link_preview_options",
                                 {"types": ["Boolean"], "required": False}),
}
_INITIATING = re.compile(r"^(send|copy|forward)")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")


class BotAPIEmulator:
    """Serves the Bot API on 127.0.0.1 and records everything the bot does."""

    def __init__(self, token: str = "123456:TEST", *, bot_id: int = 123456,
                 bot_username: str = "shangbao_test_bot", enforce_limits: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token, self.bot_id, self.bot_username = token, bot_id, bot_username
        self.bot_first_name = "Shangbao Test"
        self.enforce_limits, self.clock = enforce_limits, clock
        self.limits = dict(DEFAULT_LIMITS)
        self.spec = load_spec()
        self.validator = Validator(self.spec)
        self.base_url = self.base_file_url = ""
        self._init_records()
        self._init_world()
        self._handlers = self._method_table()

    def _init_records(self) -> None:
        self.requests: list[Request] = []
        self.sent: list[SentMessage] = []
        self.violations: list[str] = []
        self.commands: dict[tuple, list[dict]] = {}
        self.callback_answers: dict[str, dict] = {}
        self.menu_buttons: dict[int | None, dict] = {}
        self.observers: list[Callable[[str, Any], None]] = []
        self.stats: dict[str, Any] = {"requests": 0, "sent": 0, "429": 0, "403": 0, "5xx": 0,
                                      "violations": 0, "methods": Counter()}

    def _init_world(self) -> None:
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.left_chats: set[int] = set()
        self.member_status: dict[tuple[int, int], str] = {}
        self.files: dict[str, StoredFile] = {}
        self._messages: dict[tuple[int, int], dict] = {}
        self._by_key: dict[tuple[int, int], SentMessage] = {}
        self._message_ids: Counter = Counter()
        self._updates: list[dict] = []
        self._next_update_id = 1
        self._open_callbacks: set[str] = set()
        self._failures: list[_FailRule] = []
        self._rate = RateLimiter(self.clock)
        self._cond = asyncio.Condition()
        self._poll_generation = 0
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._closing = False
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._route)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"

    async def stop(self) -> None:
        self._closing = True
        async with self._cond:
            self._cond.notify_all()  # long polls return at once instead of holding shutdown
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def observe(self, observer: Callable[[str, Any], None]) -> None:
        """Call `observer(event, payload)` on "user_message" (dict), "sent", "edited",
        "deleted" (SentMessage) and "callback_answer" (the answer's parameters)."""
        self.observers.append(observer)

    def _notify(self, event: str, payload: Any) -> None:
        for observer in self.observers:
            observer(event, payload)

    # ---- simulated world ------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "User", *,
             language_code: str | None = "zh-hans", username: str | None = None) -> SimUser:
        user = SimUser(self, user_id, first_name, language_code, username)
        self.users[user_id] = user
        return user

    def group(self, chat_id: int, title: str = "Group", *, type: str = "supergroup") -> SimChat:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative, e.g. -1001234567890")
        chat = SimChat(chat_id, title, type)
        self.chats[chat_id] = chat
        self.left_chats.discard(chat_id)
        return chat

    def bot_user(self, *, full: bool = False) -> dict:
        user = {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name,
                "username": self.bot_username}
        if full:
            user |= {"can_join_groups": True, "can_read_all_group_messages": False,
                     "supports_inline_queries": False}
        return user

    def set_chat_admin(self, chat_id: int, user_id: int) -> None:
        self.set_member_status(chat_id, user_id, "administrator")

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Any ChatMember status: creator, administrator, member, restricted, left, kicked."""
        self.member_status[(chat_id, user_id)] = status

    def store_file(self, data: bytes, folder: str, suffix: str = "") -> StoredFile:
        number = len(self.files) + 1
        stored = StoredFile(f"F{number}-{secrets.token_urlsafe(12)}", f"U{number}x",
                            f"{folder}/file_{number}{suffix}", data)
        self.files[stored.file_id] = stored
        return stored

    def _chat_dict(self, chat_id: int | str) -> dict:
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id < 0:
            fallback = SimChat(chat_id, f"Group {chat_id}", "supergroup")
            return self.chats.setdefault(chat_id, fallback).as_dict()
        user = self.users.get(chat_id)
        if user is None:
            raise ApiError(400, "Bad Request: chat not found")
        chat = {"id": chat_id, "type": "private", "first_name": user.first_name}
        return chat | ({"username": user.username} if user.username else {})

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] += 1
        return self._message_ids[chat_id]

    async def _user_message(self, user: SimUser, chat: SimChat | None, content: dict,
                            reply_to: int | None = None) -> dict:
        chat_id = chat.id if chat else user.id
        if chat is None:
            self.started.add(user.id)
        else:
            self.chats.setdefault(chat.id, chat)
        message = {"message_id": self._next_message_id(chat_id), "date": int(time.time()),
                   "chat": self._chat_dict(chat_id), "from": user.as_dict(), **content}
        if reply_to is not None:
            target = self._messages.get((chat_id, reply_to))
            assert target, f"no message {reply_to} in chat {chat_id} to reply to"
            message["reply_to_message"] = _shallow(target)
        self._messages[(chat_id, message["message_id"])] = message
        self._notify("user_message", message)
        await self._inject("message", message)
        return message

    async def _callback(self, user: SimUser, chat_id: int, message: dict, data: str) -> dict:
        query = {"id": f"{user.id}-{secrets.token_hex(6)}", "from": user.as_dict(),
                 "message": message, "chat_instance": f"ci{abs(chat_id)}", "data": data}
        self._open_callbacks.add(query["id"])
        await self._inject("callback_query", query)
        return query

    async def _inject(self, kind: str, payload: dict) -> None:
        self._updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._touch()
        async with self._cond:
            self._cond.notify_all()

    def _touch(self) -> None:
        # Real time, not `clock`: idleness is about the bot's actual activity.
        self._last_activity = time.monotonic()

    # ---- inspection -----------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def last_message(self, chat_id: int) -> SentMessage:
        messages = self.messages_to(chat_id)
        if not messages:
            raise AssertionError(self._report(chat_id, f"the bot sent nothing to chat {chat_id}"))
        return messages[-1]

    async def wait_for_message(self, chat_id: int, *, contains: str | None = None,
                               predicate: Callable[[SentMessage], bool] | None = None,
                               timeout: float = 5.0, after: int | None = None) -> SentMessage:  # noqa: ASYNC109 - the public API names it timeout
        """First message to `chat_id` (from index `after` in `sent`) matching the filters.

        `contains` matches the first text or any edit of it.
        """
        def find() -> SentMessage | None:
            for message in self.sent[after or 0:]:
                if message.chat_id == chat_id and _matches(message, contains, predicate):
                    return message
            return None

        found = await _poll(find, timeout)
        if found is None:
            wanted = f"contains={contains!r}" + (", predicate" if predicate else "")
            raise AssertionError(self._report(
                chat_id, f"no message to chat {chat_id} with {wanted} after {timeout}s"))
        return found

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the public API names it timeout
        if not await _poll(predicate, timeout):
            raise AssertionError(f"condition not met within {timeout}s; "
                                 f"violations: {self.violations}")

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - the public API names it timeout
        """Wait until the bot has made no call for `quiet` s and has fetched every update."""
        def idle() -> bool:
            silent = time.monotonic() - self._last_activity >= quiet
            return silent and self._in_flight == 0 and not self._updates

        if not await _poll(idle, timeout):
            raise AssertionError(f"bot not idle after {timeout}s: {self._in_flight} calls in "
                                 f"flight, {len(self._updates)} updates not fetched")

    async def wait_callback_answer(self, cq_id: str | dict, timeout: float = 5.0) -> dict:  # noqa: ASYNC109 - the public API names it timeout
        query_id = cq_id["id"] if isinstance(cq_id, dict) else cq_id
        if not await _poll(lambda: query_id in self.callback_answers, timeout):
            raise AssertionError(f"callback query {query_id} was not answered within {timeout}s")
        return self.callback_answers[query_id]

    def assert_no_violations(self) -> None:
        if self.violations:
            raise AssertionError("Bot API spec violations:\n  " + "\n  ".join(self.violations))

    def check_object(self, obj: Any, type_name: str) -> list[str]:
        """Validate any value against a spec type, e.g. the emulator's own results."""
        return self.validator.check(obj, [type_name], type_name)

    def _report(self, chat_id: int, headline: str) -> str:
        lines = [headline, f"messages to chat {chat_id}:"]
        for message in self.messages_to(chat_id):
            lines.append(f"  #{message.index} {message.method} id={message.message_id} "
                         f"text={message.text!r} edits={message.edits} "
                         f"buttons={[b.get('text') for b in message.buttons()]}")
        failed = [f"  {r.method} -> {r.status}: {(r.response or {}).get('description')}"
                  for r in self.requests if r.status != 200][-10:]
        lines += ["failed calls:", *failed] if failed else []
        lines += ["violations:", *(f"  {v}" for v in self.violations)] if self.violations else []
        return "\n".join(lines)

    # ---- error injection ------------------------------------------------------------------

    def fail_next(self, method: str, *, status: int = 429, retry_after: int | None = None,
                  chat_id: int | None = None, times: int = 1,
                  description: str | None = None) -> None:
        name = self.spec.method_name(method)
        if name is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._failures.append(_FailRule(name, status, retry_after, chat_id, times, description))

    def block(self, chat_id: int) -> None:
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    # ---- HTTP -----------------------------------------------------------------------------

    async def _route(self, http: web.Request) -> web.StreamResponse:
        if http.path.startswith("/file/bot"):
            return self._serve_file(http.path)
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", http.path)
        if not match:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        if match.group(1) != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        return await self._handle_call(match.group(2), http)

    def _serve_file(self, path: str) -> web.StreamResponse:
        file_path = path.removeprefix(f"/file/bot{self.token}/")
        stored = next((f for f in self.files.values() if f.file_path == file_path), None)
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _handle_call(self, raw_method: str, http: web.Request) -> web.Response:
        record = Request(method=raw_method, params={}, time=self.clock())
        self.requests.append(record)
        self.stats["requests"] += 1
        polling = raw_method.lower() == "getupdates"
        if not polling:  # long polls are the bot waiting, not the bot working
            self._in_flight += 1
            self._touch()
        try:
            status, body = await self._answer(record, http)
        finally:
            if not polling:
                self._in_flight -= 1
                self._touch()
        record.status, record.response = status, body
        self._count_status(status)
        return web.json_response(body, status=status, dumps=_dumps)

    def _count_status(self, status: int) -> None:
        if status in (429, 403):
            self.stats[str(status)] += 1
        elif status >= 500:
            self.stats["5xx"] += 1

    async def _answer(self, record: Request, http: web.Request) -> tuple[int, dict]:
        try:
            name = self.spec.method_name(record.method)
            self.stats["methods"][name or record.method] += 1
            if name is None:
                raise self._violation(record.method, [f"unknown method {record.method!r}"])
            record.method = name
            record.params, record.files = await self._decode(http, name)
            call = _Call(name, record.params, record.files)
            self._validate(call)
            return 200, {"ok": True, "result": await self._perform(call)}
        except ApiError as err:
            return err.status, err.body()
        except Exception as exc:  # an emulator bug must fail the test, not look like a flake
            self.violations.append(f"{record.method}: emulator internal error {exc!r}")
            return 500, ApiError(500, "Internal Server Error").body()

    async def _decode(self, http: web.Request, method: str) -> tuple[dict, dict]:
        raw: dict[str, Any] = dict(http.query)
        try:
            raw |= await _read_body(http)
        except ValueError as exc:
            raise self._violation(method, [f"request body is not valid: {exc}"]) from exc
        fields = self._fields(method)
        files = {k: v for k, v in raw.items() if isinstance(v, UploadedFile)}
        params = {k: coerce(v, fields[k]["types"] if k in fields else None)
                  for k, v in raw.items() if k in fields or not isinstance(v, UploadedFile)}
        return params, files

    def _validate(self, call: _Call) -> None:
        fields = self._fields(call.method)
        errors = self.validator.check_fields(call.params, fields)
        errors += method_checks(call.method, call.params, fields)
        errors += attachment_errors(call.params, call.files)
        if errors:
            raise self._violation(call.method, errors)

    def _fields(self, method: str) -> dict[str, dict]:
        """The documented parameters plus the legacy ones Telegram still honours."""
        fields = self.spec.method_fields[method]
        legacy = {name: spec_field for name, (replaced, spec_field) in _LEGACY_PARAMS.items()
                  if replaced in fields}
        return fields | legacy

    def _violation(self, method: str, errors: list[str]) -> ApiError:
        self.violations += [f"{method}: {error}" for error in errors]
        self.stats["violations"] += len(errors)
        return ApiError(400, f"Bad Request: {errors[0]}")

    async def _perform(self, call: _Call) -> Any:
        self._apply_failures(call)
        items = len(call.params["media"]) if call.method == "sendMediaGroup" else 1
        counted = self._is_counted(call.method)
        chat_id = call.params.get("chat_id")
        if isinstance(chat_id, int) and _CHAT_TARGETED.match(call.method):
            self._check_reachable(call.method, chat_id)
        limited = counted and self.enforce_limits and not call.params.get("inline_message_id")
        if limited and (retry := self._rate.retry_after(self.limits, chat_id, items)):
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        result = await self._dispatch(call)
        if counted:
            self._rate.record(chat_id, items)
        return result

    def _is_counted(self, method: str) -> bool:
        returns = self.spec.methods[method].get("returns", [])
        sends = method.startswith("send") and bool({"Message", "Array of Message"} & set(returns))
        return sends or method.startswith("editMessage") or method in _COPYING

    def _apply_failures(self, call: _Call) -> None:
        for rule in self._failures:
            if rule.method == call.method and rule.chat_id in (None, call.params.get("chat_id")):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._failures.remove(rule)
                raise rule.error()

    def _check_reachable(self, method: str, chat_id: int) -> None:
        kind = self.chats[chat_id].type if chat_id in self.chats else "supergroup"
        if chat_id in self.blocked:
            reason = ("bot was blocked by the user" if chat_id > 0
                      else f"bot was kicked from the {kind} chat")
            raise ApiError(403, f"Forbidden: {reason}")
        if chat_id > 0 and chat_id not in self.started and _INITIATING.match(method):
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat_id < 0 and chat_id in self.left_chats:
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")

    async def _dispatch(self, call: _Call) -> Any:
        if call.method == "getUpdates":
            return await self._get_updates(call.params)
        handler = self._handlers.get(call.method)
        if handler is not None:
            return handler(call)
        returns = self.spec.methods[call.method].get("returns", ["Boolean"])
        return True if "Boolean" in returns else self.fake(returns[0])

    # ---- method handlers ------------------------------------------------------------------

    def _method_table(self) -> dict[str, Callable[[_Call], Any]]:
        table: dict[str, Callable[[_Call], Any]] = {
            name: self._send_media for name, method in self.spec.methods.items()
            if name.startswith("send") and method.get("returns") == ["Message"]}
        table |= {
            "getMe": lambda call: self.bot_user(full=True),
            "getWebhookInfo": lambda call: {"url": "", "has_custom_certificate": False,
                                            "pending_update_count": len(self._updates)},
            "sendMessage": self._send_message, "sendMediaGroup": self._send_media_group,
            "editMessageText": lambda call: self._edit(call, "text"),
            "editMessageCaption": lambda call: self._edit(call, "caption"),
            "editMessageReplyMarkup": lambda call: self._edit(call, None),
            "copyMessage": self._copy_message, "forwardMessage": self._forward_message,
            "deleteMessage": self._delete_message, "answerCallbackQuery": self._answer_callback,
            "setMyCommands": self._set_commands, "deleteMyCommands": self._delete_commands,
            "getMyCommands": lambda call: self.commands.get(_command_key(call.params), []),
            "getChat": self._get_chat, "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_admins, "leaveChat": self._leave_chat,
            "setChatMenuButton": self._set_menu_button, "getFile": self._get_file,
            "getChatMenuButton": lambda call: self.menu_buttons.get(
                call.params.get("chat_id"), {"type": "default"}),
        }
        return table

    async def _get_updates(self, params: dict) -> list[dict]:
        self._confirm(params.get("offset"))
        self._poll_generation += 1
        generation = self._poll_generation
        async with self._cond:
            self._cond.notify_all()  # an older long poll now loses, as on Telegram

        def ready() -> bool:
            superseded = generation != self._poll_generation
            return self._closing or superseded or bool(self._ready(params.get("allowed_updates")))

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0, params.get("timeout") or 0)), self._cond:
                await self._cond.wait_for(ready)
        if generation != self._poll_generation and not self._closing:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")
        batch = self._ready(params.get("allowed_updates"))[: params.get("limit") or 100]
        if batch:
            self._touch()
        return batch

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _ready(self, allowed: list[str] | None) -> list[dict]:
        if allowed:  # Telegram drops update types the bot did not ask for
            self._updates = [u for u in self._updates if set(u) - {"update_id"} <= set(allowed)]
        return list(self._updates)

    def _new_message(self, call: _Call, content: dict, text: str | None,
                     params: dict | None = None) -> SentMessage:
        chat_id = call.params["chat_id"]
        chat = self._chat_dict(chat_id)
        reply_to = self._reply_target(call.params, chat_id)
        message = {"message_id": self._next_message_id(chat_id), "date": int(time.time()),
                   "chat": chat, "from": self.bot_user(), **content}
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # other keyboards are not part of the Message
        replied = self._messages.get((chat_id, reply_to))
        if replied is not None:  # replies to other chats show up as external replies instead
            message["reply_to_message"] = _shallow(replied)
        return self._record_sent(call, message, text, markup, reply_to, params)

    def _record_sent(self, call: _Call, message: dict, text: str | None, markup: dict | None,
                     reply_to: int | None, params: dict | None) -> SentMessage:
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        sent = SentMessage(chat_id, message_id, text, markup, reply_to, call.method,
                           params or call.params, self.clock(), len(self.sent), message=message)
        self._messages[(chat_id, message_id)] = message
        self._by_key[(chat_id, message_id)] = sent
        self.sent.append(sent)
        self.stats["sent"] += 1
        self._notify("sent", sent)
        return sent

    def _reply_target(self, params: dict, chat_id: int) -> int | None:
        reply = params.get("reply_parameters") or {}
        target = reply.get("message_id", params.get("reply_to_message_id"))
        if target is None or (reply.get("chat_id", chat_id), target) in self._messages:
            return target
        if reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply"):
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _send_message(self, call: _Call) -> dict:
        p = call.params
        parsed = self._parse(p["text"], p.get("parse_mode"), p.get("entities"))
        content: dict[str, Any] = {"text": parsed.text}
        content |= {"entities": parsed.entities} if parsed.entities else {}
        return self._new_message(call, content, parsed.text).message

    def _parse(self, text: str, parse_mode: str | None, entities: list | None) -> ParsedText:
        try:
            return parse_text(text, parse_mode, entities)
        except ParseError as exc:  # validation has already caught this; kept for safety
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc

    def _caption(self, source: dict) -> tuple[dict, str | None]:
        if not source.get("caption"):
            return {}, None
        parsed = self._parse(source["caption"], source.get("parse_mode"),
                             source.get("caption_entities"))
        content = {"caption": parsed.text}
        if parsed.entities:
            content["caption_entities"] = parsed.entities
        return content, parsed.text

    def _send_media(self, call: _Call) -> dict:
        key = _content_key(call.method)
        content = self._media_content(key, call.params.get(key), call.params, call.files)
        caption, text = self._caption(call.params)
        return self._new_message(call, content | caption, text).message

    def _media_content(self, key: str, source: Any, hints: dict, files: dict) -> dict:
        spec_field = self.spec.type_fields["Message"].get(key)
        if spec_field is None:
            return {}
        type_name = spec_field["types"][0]
        if isinstance(source, str) and source.startswith("attach://"):
            source = files[source.removeprefix("attach://")]
        if type_name == "Array of PhotoSize":
            stored = self._resolve_file(source, "photos")
            return {key: [_photo_size(stored, 90, 67), _photo_size(stored, 1280, 960)]}
        value = self.fake(type_name, hints)
        if isinstance(value, dict) and "file_id" in self.spec.type_fields.get(type_name, {}):
            value |= _file_ids(self._resolve_file(source, key))
            if isinstance(source, UploadedFile) and "file_name" in self.spec.type_fields[type_name]:
                value["file_name"] = source.filename or "file"
        return {key: value}

    def _resolve_file(self, source: Any, folder: str) -> StoredFile:
        if isinstance(source, UploadedFile):
            return self.store_file(source.data, folder, Path(source.filename or "").suffix)
        if isinstance(source, str) and source in self.files:
            return self.files[source]
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            return self.store_file(b"downloaded " + source.encode(), folder)
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _copy_content(self, params: dict) -> dict:
        source = self._messages.get((params["from_chat_id"], params["message_id"]))
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        skip = {"message_id", "date", "chat", "from", "reply_to_message", "reply_markup",
                "edit_date", "forward_origin"}
        return {k: v for k, v in source.items() if k not in skip} | {
            "_origin": {"type": "user", "date": source["date"], "sender_user": source["from"]}}

    def _copy_message(self, call: _Call) -> dict:
        content = self._copy_content(call.params)
        content.pop("_origin")
        if "caption" in call.params and "text" not in content:
            caption, _ = self._caption(call.params)
            content = {k: v for k, v in content.items() if not k.startswith("caption")} | caption
        sent = self._new_message(call, content, content.get("text", content.get("caption")))
        return {"message_id": sent.message_id}

    def _forward_message(self, call: _Call) -> dict:
        content = self._copy_content(call.params)
        content["forward_origin"] = content.pop("_origin")
        return self._new_message(call, content, content.get("text", content.get("caption"))).message

    def _send_media_group(self, call: _Call) -> list[dict]:
        group_id = secrets.token_hex(8)
        messages = []
        for item in call.params["media"]:
            key = item["type"]
            content = self._media_content(key, item.get("media"), item, call.files)
            caption, text = self._caption(item)
            content |= caption | {"media_group_id": group_id}
            sent = self._new_message(call, content, text, params=item)
            messages.append(sent.message)
        return messages

    def fake(self, type_name: str, hints: dict | None = None, depth: int = 0) -> Any:
        """A minimal valid value of a spec type, filling required fields (hints by name)."""
        if type_name.startswith(ARRAY) or depth > 6:
            return []
        if type_name in PRIMITIVES:
            return {"Integer": 0, "Float": 0.0, "Boolean": False}.get(type_name, "")
        info = self.spec.types.get(type_name, {})
        if "subtypes" in info:
            return self.fake(info["subtypes"][0], hints, depth + 1)
        obj: dict[str, Any] = {}
        tag = self.spec.discriminator(type_name)
        for name, spec_field in self.spec.type_fields.get(type_name, {}).items():
            hint = (hints or {}).get(name)
            if tag and name == tag[0]:
                obj[name] = tag[1]
            elif hint is not None and not self.validator.check(hint, spec_field["types"], name):
                obj[name] = hint
            elif spec_field["required"]:
                obj[name] = self.fake(spec_field["types"][0], None, depth + 1)
        return obj

    def _edit(self, call: _Call, text_field: str | None) -> dict | bool:
        p = call.params
        if p.get("inline_message_id"):
            return True  # inline messages are not tracked; Telegram answers True for them
        sent = self._own_message(p["chat_id"], p["message_id"])
        updated, new_text = dict(sent.message), None
        if text_field:
            new_text = self._edit_text(sent.message, updated, text_field, p)
        markup = p.get("reply_markup")
        updated.pop("reply_markup", None)
        updated |= {"reply_markup": markup} if markup else {}
        if {k: v for k, v in updated.items() if k != "edit_date"} == {
                k: v for k, v in sent.message.items() if k != "edit_date"}:
            raise ApiError(400, NOT_MODIFIED)
        updated["edit_date"] = int(time.time())
        self._apply_edit(sent, updated, new_text, markup)
        return updated

    def _edit_text(self, current: dict, updated: dict, text_field: str, p: dict) -> str:
        if text_field == "text" and "text" not in current:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if text_field == "caption" and "text" in current:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        entities_field = "entities" if text_field == "text" else "caption_entities"
        parsed = self._parse(p.get(text_field, ""), p.get("parse_mode"), p.get(entities_field))
        updated.pop(entities_field, None)
        updated[text_field] = parsed.text
        updated |= {entities_field: parsed.entities} if parsed.entities else {}
        return parsed.text

    def _own_message(self, chat_id: Any, message_id: int) -> SentMessage:
        sent = self._by_key.get((chat_id, message_id))
        if sent is not None and not sent.deleted:
            return sent
        if (chat_id, message_id) in self._messages:
            raise ApiError(400, "Bad Request: message can't be edited")
        raise ApiError(400, "Bad Request: message to edit not found")

    def _apply_edit(self, sent: SentMessage, updated: dict, text: str | None,
                    markup: dict | None) -> None:
        sent.message = updated
        self._messages[(sent.chat_id, sent.message_id)] = updated
        if text is not None:
            sent.edits.append(text)
        # Reply keyboards are not attached to the message, so edits cannot remove them.
        previous = sent.reply_markup
        if markup is not None or previous is None or "inline_keyboard" in previous:
            sent.reply_markup = markup
        self._notify("edited", sent)

    def _delete_message(self, call: _Call) -> bool:
        key = (call.params["chat_id"], call.params["message_id"])
        if self._messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if key in self._by_key:
            self._by_key[key].deleted = True
            self._notify("deleted", self._by_key[key])
        return True

    def _answer_callback(self, call: _Call) -> bool:
        query_id = call.params["callback_query_id"]
        if query_id not in self._open_callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self._open_callbacks.discard(query_id)
        self.callback_answers[query_id] = dict(call.params)
        self._notify("callback_answer", dict(call.params))
        return True

    def _set_commands(self, call: _Call) -> bool:
        commands = [{"command": c["command"], "description": c["description"]}
                    for c in call.params["commands"]]
        self.commands[_command_key(call.params)] = commands
        return True

    def _delete_commands(self, call: _Call) -> bool:
        self.commands.pop(_command_key(call.params), None)
        return True

    def _get_chat(self, call: _Call) -> dict:
        chat = self._chat_dict(call.params["chat_id"])
        return self.fake("ChatFullInfo", chat) | chat

    def _member(self, chat_id: int, user_id: int) -> dict:
        status = self.member_status.get((chat_id, user_id))
        known = user_id in self.users or user_id == self.bot_id
        if status is None and not known:
            raise ApiError(400, "Bad Request: user not found")
        status = status or "member"
        subtype = next(s for s in self.spec.types["ChatMember"]["subtypes"]
                       if self.spec.discriminator(s) == ("status", status))
        member = self.fake(subtype)
        if status in ("administrator", "creator"):
            member |= {k: True for k in member if k.startswith("can_") and k != "can_be_edited"}
        user = self.users[user_id].as_dict() if user_id in self.users else self.bot_user()
        return member | {"user": user}

    def _get_chat_member(self, call: _Call) -> dict:
        self._chat_dict(call.params["chat_id"])
        return self._member(call.params["chat_id"], call.params["user_id"])

    def _get_admins(self, call: _Call) -> list[dict]:
        chat_id = call.params["chat_id"]
        self._chat_dict(chat_id)
        return [self._member(chat_id, user_id)
                for (chat, user_id), status in self.member_status.items()
                if chat == chat_id and status in ("administrator", "creator")]

    def _leave_chat(self, call: _Call) -> bool:
        self.left_chats.add(call.params["chat_id"])
        return True

    def _set_menu_button(self, call: _Call) -> bool:
        button = call.params.get("menu_button") or {"type": "default"}
        self.menu_buttons[call.params.get("chat_id")] = button
        return True

    def _get_file(self, call: _Call) -> dict:
        stored = self.files.get(call.params["file_id"])
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return _file_ids(stored) | {"file_path": stored.file_path}


def _command_key(params: dict) -> tuple:
    scope = params.get("scope") or {"type": "default"}
    return scope.get("type"), scope.get("chat_id"), params.get("language_code") or ""


def _matches(message: SentMessage, contains: str | None,
             predicate: Callable[[SentMessage], bool] | None) -> bool:
    if contains is not None and not any(contains in text for text in message.versions()):
        return False
    return predicate is None or bool(predicate(message))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _read_body(http: web.Request) -> dict[str, Any]:
    """Form, multipart or JSON bodies, as PTB and other clients send them."""
    if http.content_type == "application/json":
        text = await http.text()
        data = json.loads(text) if text.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("a JSON body must be an object")
        return data
    if http.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await http.post()
        return {key: _form_value(value) for key, value in form.items()}
    return {}


def _form_value(value: Any) -> Any:
    if isinstance(value, web.FileField):
        return UploadedFile(value.name, value.filename, value.content_type, value.file.read())
    return value if isinstance(value, str) else bytes(value).decode()


@contextlib.asynccontextmanager
async def running_emulator(**kwargs: Any) -> AsyncIterator[BotAPIEmulator]:
    """A started emulator, stopped on exit: `async with running_emulator() as emu: ...`."""
    emu = BotAPIEmulator(**kwargs)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
