"""The Jinja environments templates render in: sandboxed, strict, autoescaping only for HTML.

Variables are undefined-strict (the schema guarantees they exist); the recipient (`user`) is
lenient, because a missing first name or custom attribute must render empty, not fail a send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Undefined
from jinja2.filters import do_format, do_indent
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError, safe_range

from templates_store.html_text import html_to_text

MAX_POWER = 100
MAX_REPEAT = 100_000
# Numbers `range` may produce in one render, all calls together: Jinja caps each call at 100,000,
# but two nested loops would still be 10^10 steps, and a render cannot be interrupted.
MAX_RANGE_STEPS = 1_000_000


@dataclass
class RenderBudget:
    range_steps: int = MAX_RANGE_STEPS


_budget: ContextVar[RenderBudget | None] = ContextVar("herald_render_budget", default=None)


@contextmanager
def render_budget() -> Iterator[None]:
    """One render's budget: a version's every part together, for one recipient."""
    token = _budget.set(RenderBudget())
    try:
        yield
    finally:
        _budget.reset(token)


def budgeted_range(*args: int) -> range:
    """Jinja's safe `range`, charged to the current render's budget."""
    numbers = safe_range(*args)
    budget = _budget.get()
    if budget is not None:
        budget.range_steps -= len(numbers)
        if budget.range_steps < 0:
            raise SecurityError(f"A render may loop over at most {MAX_RANGE_STEPS} numbers.")
    return numbers


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
    """Jinja's sandbox, plus: dict keys win over dict methods, and no huge strings or numbers
    from `*`, `**`, `%` formatting or padding."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        value = super().getattr(obj, attribute)
        return _lenient(obj, attribute, value)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return _lenient(obj, argument, super().getitem(obj, argument))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        # Positional-only, like Jinja's own `__context, __obj`: kwargs may use any name.
        _check_width(_padded_size(obj, args, kwargs))
        return super().call(context, obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_POWER:
            raise SecurityError(f"Exponents above {MAX_POWER} are not allowed.")
        if operator == "*" and _repeat_size(left, right) > MAX_REPEAT:
            raise SecurityError(f"Repetitions longer than {MAX_REPEAT} are not allowed.")
        if operator == "%" and isinstance(left, str):
            _check_width(_format_width(left, right))
        return super().call_binop(context, operator, left, right)


def _lenient(obj: Any, name: Any, value: Any) -> Any:
    if isinstance(obj, RecipientView) and isinstance(value, Undefined):
        return ChainableUndefined(obj=obj, name=name)
    return value


def _check_width(width: int) -> None:
    if width > MAX_REPEAT:
        raise SecurityError(f"Padding to more than {MAX_REPEAT} characters is not allowed.")


# str methods whose first argument is the width of the string they return.
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _padded_size(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """How long a padding call like `'x'.center(n)` makes its string at least; else 0."""
    text = getattr(method, "__self__", None)
    name = getattr(method, "__name__", None)
    if not isinstance(text, str) or name not in (*_WIDTH_METHODS, "expandtabs"):
        return 0
    width = args[0] if args else next(iter(kwargs.values()), 0)
    if not isinstance(width, int):
        return 0
    return text.count("\t") * width if name == "expandtabs" else width


# A printf-style conversion's width and precision: `%-10s`, `%08.3f`, `%*d`.
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _format_width(template: str, values: Any) -> int:
    """The largest width or precision `template % values` asks for (`*` takes it from values)."""
    widest = 0
    for match in _CONVERSION.finditer(template):
        for part in match.groups():
            if part == "*":
                given = values if isinstance(values, tuple) else (values,)
                widest = max([widest, *(v for v in given if isinstance(v, int))])
            elif part:
                widest = max(widest, int(part))
    return widest


def _bounded_center(value: Any, width: int = 80) -> str:
    _check_width(width if isinstance(width, int) else 0)
    return str(value).center(width)


def _bounded_indent(value: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
    _check_width(width if isinstance(width, int) else len(width))
    return do_indent(value, width, *args, **kwargs)


def _bounded_format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_width(_format_width(str(value), args))
    return do_format(value, *args, **kwargs)


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
    env.globals["range"] = budgeted_range
    env.filters.update(center=_bounded_center, indent=_bounded_indent, format=_bounded_format)
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
