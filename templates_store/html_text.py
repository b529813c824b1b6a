"""Plain text from an email's HTML, for the text/plain part when a template gives none.

Regular expressions rather than a parser: email HTML is simple, and this runs once per
recipient, so it must cost microseconds. Links keep their target: `label (https://...)`.
"""

from __future__ import annotations

import html
import re

_INVISIBLE = re.compile(
    r"<!--.*?-->|<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_WHITESPACE = re.compile(r"\s+")
_LINK = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>(.*?)</a\s*>""",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>|<[^>]*>")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_SPACE_AROUND_NEWLINE = re.compile(r"[ \t]*\n[ \t]*")

_LINE_BREAK = {"br", "tr"}
_PARAGRAPH = {
    "p",
    "div",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "hr",
    "pre",
}


def html_to_text(source: str) -> str:
    """Readable plain text: paragraphs separated by blank lines, list items with dashes."""
    text = _INVISIBLE.sub("", source)
    text = _WHITESPACE.sub(" ", text)
    text = _LINK.sub(_link_text, text)
    text = _TAG.sub(_tag_text, text)
    text = html.unescape(text).replace("\xa0", " ")
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _link_text(match: re.Match[str]) -> str:
    href = (match.group(1) or match.group(2) or match.group(3) or "").strip()
    label = _TAG.sub("", match.group(4)).strip()
    if not href or href.startswith("#") or html.unescape(href) == html.unescape(label):
        return label or href
    return f"{label} ({href})" if label else href


def _tag_text(match: re.Match[str]) -> str:
    name = (match.group(2) or "").lower()
    closing = match.group(1) == "/"
    if name in _LINE_BREAK:
        return "\n"
    if name in _PARAGRAPH:
        return "\n\n"
    if name == "li":
        return "" if closing else "\n- "
    if name in {"td", "th"} and closing:
        return " "
    return ""
