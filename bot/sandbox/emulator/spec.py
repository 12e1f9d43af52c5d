"""The official Bot API description (`data/telegram-bot-api.json`) and a validator driven
by it: every request the bot makes is checked against it, as Telegram would."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.sandbox.emulator.text import ParseError, parse_text

SPEC_PATH = Path(__file__).resolve().parent.parent / "data" / "telegram-bot-api.json"
PRIMITIVES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})
ARRAY = "Array of "


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
