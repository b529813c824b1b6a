"""Plain text from an email's HTML, for the text/plain part when a template gives none.

Regular expressions rather than a parser: email HTML is simple, and this runs once per
recipient, so it must cost microseconds. Links keep their target: `label (https://...)`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

_INVISIBLE = re.compile(
    r"<!--.*?-->|<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_LINK = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>(.*?)</a\s*>""",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<(?:br|/tr)\b[^>]*>", re.IGNORECASE)
_BLOCK = re.compile(
    r"</?(?:p|div|table|h[1-6]|ul|ol|blockquote|section|article|header|footer|hr|pre)\b[^>]*>",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
_CELL_END = re.compile(r"</t[dh]\s*>", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(source: str) -> str:
    """Readable plain text: paragraphs separated by blank lines, list items with dashes."""
    text = " ".join(_INVISIBLE.sub("", source).split())
    text = _LINK.sub(_link_text, text)
    # Plain replacements, no callbacks: this runs once per recipient.
    text = _BREAK.sub("\n", text)
    text = _BLOCK.sub("\n\n", text)
    text = _LIST_ITEM.sub("\n- ", text)
    text = _CELL_END.sub(" ", text)
    text = _TAG.sub("", text)
    return tidy_text(html.unescape(text).replace("\xa0", " "))


def _link_text(match: re.Match[str]) -> str:
    href = (match.group(1) or match.group(2) or match.group(3) or "").strip()
    label = _TAG.sub("", match.group(4)).strip()
    if not href or href.startswith("#") or html.unescape(href) == html.unescape(label):
        return label or href
    return f"{label} ({href})" if label else href


_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")
_JINJA_MARKERS = ("{{", "{%", "{#")


def text_template_source(tokens: Iterable[tuple[int, str, str]]) -> str | None:
    """Jinja source for the text part, converted once from the HTML template's tokens.

    Markup is converted while Jinja code is set aside behind placeholders, so each recipient
    costs one text render instead of an HTML-to-text pass over the whole email. None when the
    conversion would drop a statement (`{% ... %}`) or expose literal Jinja markers; the
    renderer then converts each rendered HTML instead.
    """
    pieces: list[str] = []
    spans: list[str] = []
    code: list[str] = []
    for _lineno, kind, value in tokens:
        if kind != "data":
            code.append(value)
            continue
        if code:
            pieces.append(f"\x00{len(spans)}\x00")
            spans.append("".join(code))
            code = []
        if "\x00" in value:
            return None
        pieces.append(value)
    if code:
        pieces.append(f"\x00{len(spans)}\x00")
        spans.append("".join(code))
    text = html_to_text("".join(pieces))
    kept = {int(index) for index in _PLACEHOLDER.findall(text)}
    if any(not spans[i].startswith("{{") for i in set(range(len(spans))) - kept):
        return None
    if any(
        marker in static for static in _PLACEHOLDER.split(text)[::2] for marker in _JINJA_MARKERS
    ):
        return None
    return _PLACEHOLDER.sub(lambda match: spans[int(match.group(1))], text)


def tidy_text(text: str) -> str:
    """Trim lines and collapse blank runs left by template blocks that rendered nothing."""
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()
