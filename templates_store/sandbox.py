"""The Jinja environments templates render in: sandboxed, strict, autoescaping only for HTML.

Variables are undefined-strict (the schema guarantees they exist); the recipient (`user`) is
lenient, because a missing first name or custom attribute must render empty, not fail a send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Undefined
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from templates_store.html_text import html_to_text

MAX_POWER = 100
MAX_REPEAT = 100_000


class RecipientView(dict[str, Any]):
    """The recipient's attributes; an absent one is an empty, chainable undefined."""

    @classmethod
    def of(cls, user: Mapping[str, Any]) -> RecipientView:
        return cls(
            {
                name: cls.of(value) if isinstance(value, Mapping) else value
                for name, value in user.items()
                if value is not None
            }
        )


class HeraldSandbox(SandboxedEnvironment):
    """Jinja's sandbox, plus: dict keys win over dict methods, and no huge `*` or `**`."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        value = super().getattr(obj, attribute)
        return _lenient(obj, attribute, value)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return _lenient(obj, argument, super().getitem(obj, argument))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_POWER:
            raise SecurityError(f"Exponents above {MAX_POWER} are not allowed.")
        if operator == "*" and _repeat_size(left, right) > MAX_REPEAT:
            raise SecurityError(f"Repetitions longer than {MAX_REPEAT} are not allowed.")
        return super().call_binop(context, operator, left, right)


def _lenient(obj: Any, name: Any, value: Any) -> Any:
    if isinstance(obj, RecipientView) and isinstance(value, Undefined):
        return ChainableUndefined(obj=obj, name=name)
    return value


def _repeat_size(left: Any, right: Any) -> int:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return len(sequence) * count
    return 0


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def build_environment(*, autoescape: bool) -> HeraldSandbox:
    """A strict sandbox; `lipsum` is dropped (random output, and costly on request)."""
    env = HeraldSandbox(
        autoescape=autoescape,
        undefined=StrictUndefined,
        finalize=_finalize,
        auto_reload=False,
        cache_size=0,
    )
    env.globals.pop("lipsum", None)
    return env


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _markup_as_text(value: Any) -> str:
    return html_to_text(_as_text(value))


def build_text_from_html_environment() -> HeraldSandbox:
    """For the text part derived from an email's HTML template: HTML marked safe is converted
    to text, and explicit escaping does nothing (text is never escaped)."""
    env = build_environment(autoescape=False)
    env.filters.update(safe=_markup_as_text, e=_as_text, escape=_as_text, forceescape=_as_text)
    return env


TEXT = build_environment(autoescape=False)
HTML = build_environment(autoescape=True)
TEXT_FROM_HTML = build_text_from_html_environment()
GLOBALS = dict(TEXT.globals)
