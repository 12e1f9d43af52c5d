"""Formatted text: what the user sees after Telegram parses entities out of it (HTML,
MarkdownV2, Markdown), with lengths counted in UTF-16 as Telegram counts them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


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
