"""What one render may cost: its budget of iterations and output, and the size checks and
bounded filters that keep a template from building huge values (the sandbox's limits)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import pass_eval_context
from jinja2.filters import (
    do_batch,
    do_center,
    do_format,
    do_indent,
    do_replace,
    do_round,
    do_wordwrap,
    make_attrgetter,
    pass_environment,
    sync_do_join,
    sync_do_slice,
)
from jinja2.nodes import EvalContext
from jinja2.sandbox import SecurityError, safe_range

MAX_POWER = 100
MAX_REPEAT = 100_000
# Numbers `range` may produce in one render, all calls together: Jinja caps each call at 100,000,
# but two nested loops would still be 10^10 steps, and a render cannot be interrupted.
MAX_RANGE_STEPS = 1_000_000
# Items one render may iterate over: every `{% for %}` step, plus each item an iterating filter
# (`map`, `join`, `sort`, ...) goes through. Nested loops over a long string or list hit it.
MAX_ITERATIONS = 1_000_000
# Integers `*` and `**` may produce (about 3,000 digits), so a chain of powers fails at once.
MAX_NUMBER_BITS = 10_000


# Characters one render may join into text, all parts and every captured block together
# (`{% set %}...{% endset %}`, macro and call bodies, the output itself). Each join is bounded by
# what went into it, so nesting blocks that repeat a long value multiplies it: this caps that.
MAX_OUTPUT = 10_000_000


@dataclass
class RenderBudget:
    range_steps: int = MAX_RANGE_STEPS
    iterations: int = MAX_ITERATIONS
    output: int = MAX_OUTPUT


_current_budget: ContextVar[RenderBudget | None] = ContextVar("herald_render_budget", default=None)


@contextmanager
def render_budget() -> Iterator[None]:
    """One render's budget: a version's every part together, for one recipient."""
    token = _current_budget.set(RenderBudget())
    try:
        yield
    finally:
        _current_budget.reset(token)


def budgeted_range(*args: int) -> range:
    """Jinja's safe `range`, charged to the current render's budget."""
    numbers = safe_range(*args)
    charge("range_steps", len(numbers), f"loop over at most {MAX_RANGE_STEPS} numbers")
    return numbers


def charge_iterations(count: int) -> None:
    """Charge `count` items to the current render's iteration budget (none outside a render)."""
    charge("iterations", count, f"iterate over at most {MAX_ITERATIONS} items")


def charge_output(size: int) -> None:
    """Charge `size` characters of joined text to the current render's output budget."""
    charge("output", size, f"produce at most {MAX_OUTPUT} characters of text")


def charge(kind: str, amount: int, limit: str) -> None:
    """Spend `amount` of one of the current render's budgets; none is kept outside a render."""
    budget = _current_budget.get()
    if budget is None:
        return
    left = getattr(budget, kind) - amount
    setattr(budget, kind, left)
    if left < 0:
        raise SecurityError(f"A render may {limit}.")


def budgeted(iterable: Any) -> Any:
    """`iterable`, its items charged to the render's budget: all at once when it has a length
    (no cost per item, and the loop still knows `loop.length`), else one by one."""
    if isinstance(iterable, Sized):
        charge_iterations(len(iterable))
        return iterable
    return counted(iterable)


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        charge_iterations(1)
        yield item


def check_width(width: int) -> None:
    if width > MAX_REPEAT:
        raise SecurityError(f"Padding to more than {MAX_REPEAT} characters is not allowed.")


def check_grown(size: int, previous: int) -> None:
    """Refuse a string or list longer than the limit, unless it is no longer than before
    (a long variable may still be passed through a filter, or shortened)."""
    if size > MAX_REPEAT and size > previous:
        message = f"Results longer than {MAX_REPEAT} characters or items are not allowed."
        raise SecurityError(message)


def check_bits(bits: int) -> None:
    if bits > MAX_NUMBER_BITS:
        raise SecurityError(f"Numbers larger than {MAX_NUMBER_BITS} bits are not allowed.")


def check_power(base: Any, exponent: Any) -> None:
    if isinstance(exponent, int | float) and abs(exponent) > MAX_POWER:
        raise SecurityError(f"Exponents above {MAX_POWER} are not allowed.")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        # Checked before computing: the result has at most this many bits.
        check_bits(abs(base).bit_length() * exponent)


def check_sum(left: Any, right: Any) -> None:
    for kind in (str, list, tuple):
        if isinstance(left, kind) and isinstance(right, kind):
            check_grown(len(left) + len(right), max(len(left), len(right)))


# str methods whose first argument is the width of the string they return.
WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def padded_size(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """How long a padding call like `'x'.center(n)` makes its string at least; else 0."""
    text = getattr(method, "__self__", None)
    name = getattr(method, "__name__", None)
    if not isinstance(text, str) or name not in (*WIDTH_METHODS, "expandtabs"):
        return 0
    width = args[0] if args else next(iter(kwargs.values()), 0)
    if not isinstance(width, int):
        return 0
    return text.count("\t") * width if name == "expandtabs" else width


def checked_method_args(method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Refuse a method call that would build a huge string, list or bytes before it runs; the
    arguments to call it with (an iterable argument is read once, here)."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", None)
    if isinstance(owner, str) and name == "replace" and len(args) >= 2:
        check_grown(replaced_size(owner, *args[:3]), len(owner))
    elif isinstance(owner, str) and name == "translate" and args:
        check_grown(len(owner) * longest_value(args[0]), len(owner))
    elif isinstance(owner, str) and name == "join" and args:
        items = list(budgeted(args[0]))
        check_grown(joined_size(owner, items), longest(items))
        return (items, *args[1:])
    elif isinstance(owner, list) and name == "extend" and args:
        items = list(budgeted(args[0]))
        check_grown(len(owner) + len(items), len(owner))
        return (items, *args[1:])
    elif isinstance(owner, int) and name == "to_bytes" and args and isinstance(args[0], int):
        check_grown(args[0], 0)
    return args


def replaced_size(text: str, old: Any, new: Any, count: Any = None) -> int:
    """How long `text.replace(old, new, count)` is (an empty `old` matches len(text) + 1 times)."""
    found = text.count(str(old))
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(str(new)) - len(str(old)))


def longest_value(table: Any) -> int:
    if not isinstance(table, Mapping):
        return 1
    return max([1, *(len(v) for v in table.values() if isinstance(v, str))])


def joined_size(separator: str, items: list[Any]) -> int:
    return sum(len(i) for i in items if isinstance(i, str)) + len(separator) * (len(items) - 1)


def longest(items: list[Any]) -> int:
    return max([0, *(len(i) for i in items if isinstance(i, str))])


# A printf-style conversion's width and precision: `%-10s`, `%08.3f`, `%*d`.
CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def format_width(template: str, values: Any) -> int:
    """The largest width or precision `template % values` asks for (`*` takes it from values)."""
    widest = 0
    for match in CONVERSION.finditer(template):
        for part in match.groups():
            if part == "*":
                given = values if isinstance(values, tuple) else (values,)
                widest = max([widest, *(v for v in given if isinstance(v, int))])
            elif part:
                widest = max(widest, int(part))
    return widest


def bounded_center(value: Any, width: int = 80) -> str:
    check_width(width if isinstance(width, int) else 0)
    return do_center(value, width)  # keeps Markup safe, as Jinja's own filter does


def bounded_indent(value: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
    check_width(width if isinstance(width, int) else len(width))
    text = str(value)
    indent = width if isinstance(width, int) else len(width)
    check_grown(len(text) + (text.count("\n") + 1) * indent, len(text))
    return do_indent(value, width, *args, **kwargs)


def bounded_format(value: str, *args: Any, **kwargs: Any) -> str:
    check_width(format_width(str(value), args))
    return do_format(value, *args, **kwargs)


@pass_eval_context
def bounded_replace(
    eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None
) -> str:
    text = str(s)
    check_grown(replaced_size(text, old, new, count), len(text))
    return do_replace(eval_ctx, s, old, new, count)


@pass_eval_context
def bounded_join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None
) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    check_grown(joined_size(str(d), items), longest(items))
    return sync_do_join(eval_ctx, items, d)


@pass_environment
def bounded_wordwrap(environment: Any, s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
    text = str(s)
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    joiner = len(str(wrapstring)) if wrapstring is not None else len(environment.newline_sequence)
    # A wrapped line holds at least half of `width`, but for a paragraph's last line.
    lines = 2 * len(text) // max(width, 1) + text.count("\n") + 1 if isinstance(width, int) else 0
    check_grown(len(text) + lines * joiner, len(text))
    return do_wordwrap(environment, s, width, *args, **kwargs)


MAX_ROUND_DIGITS = 100  # `round(5, -10**9)` computes 10 ** (10 ** 9) first


def bounded_round(value: Any, precision: Any = 0, method: str = "common") -> float:
    if isinstance(precision, int) and abs(precision) > MAX_ROUND_DIGITS:
        raise SecurityError(f"round takes at most {MAX_ROUND_DIGITS} digits of precision.")
    return do_round(value, precision, method)  # type: ignore[arg-type]


def bounded_batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    if fill_with is not None and isinstance(linecount, int):
        check_grown(linecount, 0)  # the last batch is padded to `linecount` items
    return do_batch(value, linecount, fill_with)


def bounded_slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    if isinstance(slices, int):
        charge_iterations(slices)  # one step per slice, however short the input
    return sync_do_slice(value, slices, fill_with)


BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {
    "center": bounded_center,
    "indent": bounded_indent,
    "format": bounded_format,
    "replace": bounded_replace,
    "join": bounded_join,
    "wordwrap": bounded_wordwrap,
    "batch": bounded_batch,
    "round": bounded_round,
    "slice": bounded_slice,
}
