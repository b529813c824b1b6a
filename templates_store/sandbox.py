"""The Jinja environments templates render in: sandboxed, strict, autoescaping only for HTML.

Variables are undefined-strict (the schema guarantees they exist); the recipient (`user`) is
lenient, because a missing first name or custom attribute must render empty, not fail a send.

A render cannot be interrupted, so the sandbox bounds what one render may do: how long a string
or list any operation may build, how large a number, and how many items all its loops and
iterating filters may go through together (one `RenderBudget` per render).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Undefined, nodes, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame
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
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import SandboxedEnvironment, SecurityError, safe_range
from jinja2.utils import _PassArg

from templates_store.html_text import html_to_text

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
    _charge("range_steps", len(numbers), f"loop over at most {MAX_RANGE_STEPS} numbers")
    return numbers


def charge_iterations(count: int) -> None:
    """Charge `count` items to the current render's iteration budget (none outside a render)."""
    _charge("iterations", count, f"iterate over at most {MAX_ITERATIONS} items")


def charge_output(size: int) -> None:
    """Charge `size` characters of joined text to the current render's output budget."""
    _charge("output", size, f"produce at most {MAX_OUTPUT} characters of text")


def _charge(kind: str, amount: int, limit: str) -> None:
    """Spend `amount` of one of the current render's budgets; none is kept outside a render."""
    budget = _budget.get()
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
    return _counted(iterable)


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        charge_iterations(1)
        yield item


class HeraldCodeGenerator(CodeGenerator):
    """Jinja's code generator, changed so that compiling evaluates nothing and rendering is
    bounded: every for loop draws on the render's iteration budget, and `~` on the size limit.

    Jinja folds constant expressions while compiling (`{{ 'x' | replace('', 'y' * 9) }}` would
    run when a version is saved), through its optimizer, constant output and `{% autoescape %}`
    values; all three are turned off here.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimizer = None  # also for generators built directly (meta's name tracker)
        # Nodes not yet written whose value goes through an environment function first (by
        # id: Jinja forbids custom node types): loops' iterables, `~` operands.
        self._wrapped: dict[int, str] = {}

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        wrapper = self._wrapped.pop(id(node), None)
        if wrapper is None:
            return super().visit(node, *args, **kwargs)
        self.write(f"environment.{wrapper}(")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()  # evaluated when rendering, like any expression
        return super()._output_child_to_const(node, frame, finalize)

    def visit_EvalContextModifier(self, node: nodes.EvalContextModifier, frame: Frame) -> None:
        # As Jinja's, but only a literal is read at compile time; anything else is volatile.
        for keyword in node.options:
            self.writeline(f"context.eval_ctx.{keyword.key} = ")
            self.visit(keyword.value, frame)
            if isinstance(keyword.value, nodes.Const):
                setattr(frame.eval_ctx, keyword.key, keyword.value.value)
            else:
                frame.eval_ctx.volatile = True

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Jinja writes the iterable once (at the loop, or at the first call of a recursive one).
        self._wrapped[id(node.iter)] = "budgeted_iterable"
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        for operand in node.nodes:  # each is turned into text by the join
            self._wrapped[id(operand)] = "textable"
        self.write("environment.bounded_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


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
    """Jinja's sandbox, plus: dict keys win over dict methods; no huge strings, lists or numbers
    from operators, filters or methods; loops and iterating filters charged to a budget."""

    code_generator_class = HeraldCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

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
        if isinstance(obj, LoopContext) and args:  # `loop(children)` in a recursive loop
            args = (budgeted(args[0]), *args[1:])
        args = _checked_method_args(obj, args)
        result = super().call(context, obj, *args, **kwargs)
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str) and isinstance(result, str):
            _check_grown(len(result), len(owner))
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "+":
            _check_sum(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "*":
            if _repeat_size(left, right) > MAX_REPEAT:
                raise SecurityError(f"Repetitions longer than {MAX_REPEAT} are not allowed.")
            if isinstance(left, int) and isinstance(right, int):
                _check_bits(abs(left).bit_length() + abs(right).bit_length())
        elif operator == "%" and isinstance(left, str):
            _check_width(_format_width(left, right))
        result = super().call_binop(context, operator, left, right)
        if isinstance(left, str) and isinstance(result, str):  # `%` formatting's actual size
            _check_grown(len(result), len(left))
        return result

    # Called by the code HeraldCodeGenerator writes.
    budgeted_iterable = staticmethod(budgeted)

    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        """Every join of rendered text: the output and each captured block's buffer."""
        text = "".join(parts)
        charge_output(len(text))
        return text

    @staticmethod
    def textable(value: Any) -> Any:
        """A `~` operand, which the join turns into text."""
        return _check_textable(value)

    @staticmethod
    def bounded_concat(value: str) -> str:
        """The result of `a ~ b ~ ...`, refused when longer than the limit."""
        _check_grown(len(value), 0)
        return value


def _lenient(obj: Any, name: Any, value: Any) -> Any:
    if isinstance(obj, RecipientView) and isinstance(value, Undefined):
        return ChainableUndefined(obj=obj, name=name)
    return value


def _check_width(width: int) -> None:
    if width > MAX_REPEAT:
        raise SecurityError(f"Padding to more than {MAX_REPEAT} characters is not allowed.")


def _check_grown(size: int, previous: int) -> None:
    """Refuse a string or list longer than the limit, unless it is no longer than before
    (a long variable may still be passed through a filter, or shortened)."""
    if size > MAX_REPEAT and size > previous:
        message = f"Results longer than {MAX_REPEAT} characters or items are not allowed."
        raise SecurityError(message)


def _check_bits(bits: int) -> None:
    if bits > MAX_NUMBER_BITS:
        raise SecurityError(f"Numbers larger than {MAX_NUMBER_BITS} bits are not allowed.")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(exponent, int | float) and abs(exponent) > MAX_POWER:
        raise SecurityError(f"Exponents above {MAX_POWER} are not allowed.")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        # Checked before computing: the result has at most this many bits.
        _check_bits(abs(base).bit_length() * exponent)


def _check_sum(left: Any, right: Any) -> None:
    for kind in (str, list, tuple):
        if isinstance(left, kind) and isinstance(right, kind):
            _check_grown(len(left) + len(right), max(len(left), len(right)))


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


def _checked_method_args(method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Refuse a method call that would build a huge string, list or bytes before it runs; the
    arguments to call it with (an iterable argument is read once, here)."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", None)
    if isinstance(owner, str) and name == "replace" and len(args) >= 2:
        _check_grown(_replaced_size(owner, *args[:3]), len(owner))
    elif isinstance(owner, str) and name == "translate" and args:
        _check_grown(len(owner) * _longest_value(args[0]), len(owner))
    elif isinstance(owner, str) and name == "join" and args:
        items = list(budgeted(args[0]))
        _check_grown(_joined_size(owner, items), _longest(items))
        return (items, *args[1:])
    elif isinstance(owner, list) and name == "extend" and args:
        items = list(budgeted(args[0]))
        _check_grown(len(owner) + len(items), len(owner))
        return (items, *args[1:])
    elif isinstance(owner, int) and name == "to_bytes" and args and isinstance(args[0], int):
        _check_grown(args[0], 0)
    return args


def _replaced_size(text: str, old: Any, new: Any, count: Any = None) -> int:
    """How long `text.replace(old, new, count)` is (an empty `old` matches len(text) + 1 times)."""
    found = text.count(str(old))
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(str(new)) - len(str(old)))


def _longest_value(table: Any) -> int:
    if not isinstance(table, Mapping):
        return 1
    return max([1, *(len(v) for v in table.values() if isinstance(v, str))])


def _joined_size(separator: str, items: list[Any]) -> int:
    return sum(len(i) for i in items if isinstance(i, str)) + len(separator) * (len(items) - 1)


def _longest(items: list[Any]) -> int:
    return max([0, *(len(i) for i in items if isinstance(i, str))])


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
    return do_center(value, width)  # keeps Markup safe, as Jinja's own filter does


def _bounded_indent(value: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
    _check_width(width if isinstance(width, int) else len(width))
    text = str(value)
    indent = width if isinstance(width, int) else len(width)
    _check_grown(len(text) + (text.count("\n") + 1) * indent, len(text))
    return do_indent(value, width, *args, **kwargs)


def _bounded_format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_width(_format_width(str(value), args))
    return do_format(value, *args, **kwargs)


@pass_eval_context
def _bounded_replace(
    eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None
) -> str:
    text = str(s)
    _check_grown(_replaced_size(text, old, new, count), len(text))
    return do_replace(eval_ctx, s, old, new, count)


@pass_eval_context
def _bounded_join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None
) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    _check_grown(_joined_size(str(d), items), _longest(items))
    return sync_do_join(eval_ctx, items, d)


@pass_environment
def _bounded_wordwrap(environment: Any, s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
    text = str(s)
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    joiner = len(str(wrapstring)) if wrapstring is not None else len(environment.newline_sequence)
    # A wrapped line holds at least half of `width`, but for a paragraph's last line.
    lines = 2 * len(text) // max(width, 1) + text.count("\n") + 1 if isinstance(width, int) else 0
    _check_grown(len(text) + lines * joiner, len(text))
    return do_wordwrap(environment, s, width, *args, **kwargs)


MAX_ROUND_DIGITS = 100  # `round(5, -10**9)` computes 10 ** (10 ** 9) first


def _bounded_round(value: Any, precision: Any = 0, method: str = "common") -> float:
    if isinstance(precision, int) and abs(precision) > MAX_ROUND_DIGITS:
        raise SecurityError(f"round takes at most {MAX_ROUND_DIGITS} digits of precision.")
    return do_round(value, precision, method)  # type: ignore[arg-type]


def _bounded_batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    if fill_with is not None and isinstance(linecount, int):
        _check_grown(linecount, 0)  # the last batch is padded to `linecount` items
    return do_batch(value, linecount, fill_with)


def _bounded_slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    if isinstance(slices, int):
        charge_iterations(slices)  # one step per slice, however short the input
    return sync_do_slice(value, slices, fill_with)


_BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {
    "center": _bounded_center,
    "indent": _bounded_indent,
    "format": _bounded_format,
    "replace": _bounded_replace,
    "join": _bounded_join,
    "wordwrap": _bounded_wordwrap,
    "batch": _bounded_batch,
    "round": _bounded_round,
    "slice": _bounded_slice,
}
# Filters that go through every item of their input.
_ITERATING_FILTERS = frozenset(
    {
        *("batch", "dictsort", "groupby", "items", "join", "list", "map", "max", "min"),
        *("reject", "rejectattr", "reverse", "select", "selectattr", "slice", "sort", "sum"),
        *("tojson", "unique"),
    }
)


# Filters that turn their whole input into text (a container included).
_TEXT_FILTERS = frozenset(
    {"e", "escape", "forceescape", "join", "pprint", "string", "tojson", "urlencode", "xmlattr"}
)


# Filters that return their input, one of its items or a number: nothing to check, and they
# are the common ones (`default` on every recipient attribute), so they stay unwrapped.
_PLAIN_FILTERS = frozenset(
    {"abs", "count", "d", "default", "first", "float", "int", "last", "length", "random", "round"}
)


def _guarded(
    filter_func: Callable[..., Any], *, iterates: bool, writes_text: bool
) -> Callable[..., Any]:
    """`filter_func`, charging its input's items to the budget when it iterates, and refusing a
    string result longer than the limit (and than its input). Keeps Jinja's pass_* marker."""
    position = 0 if _PassArg.from_obj(filter_func) is None else 1

    @functools.wraps(filter_func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value = args[position] if len(args) > position else None
        if writes_text:
            _check_textable(value)
        if iterates and len(args) > position:
            args = (*args[:position], budgeted(value), *args[position + 1 :])
        result = filter_func(*args, **kwargs)
        if isinstance(result, str | list | tuple):
            before = len(value) if isinstance(value, str | list | tuple) else 0
            _check_grown(len(result), before)
        return result

    return guarded


def _repeat_size(left: Any, right: Any) -> int:
    """The size of `sequence * count`: its items, and for a list or tuple also the characters
    of its string items (`[long_text] * 1000` prints as a thousand copies)."""
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str) and isinstance(count, int):
            return len(sequence) * count
        if isinstance(sequence, list | tuple) and isinstance(count, int):
            texts = sum(len(item) for item in sequence if isinstance(item, str | list | tuple))
            return max(len(sequence), texts) * count
    return 0


def _finalize(value: Any) -> Any:
    return "" if value is None else _check_textable(value)


def _check_textable(value: Any) -> Any:
    """`value`, refused when it is a container too large to turn into text: lists can share
    themselves (`{% set ns.a = [ns.a, ns.a] %}` doubles what `str` would write, each time), so
    the walk counts every reference, and stops at the limit."""
    if not isinstance(value, list | tuple | dict):
        return value
    pending, seen = [value], 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > MAX_ITERATIONS:
            raise SecurityError(f"Containers of more than {MAX_ITERATIONS} items cannot be text.")
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return value


def build_environment(*, autoescape: bool) -> HeraldSandbox:
    """A strict sandbox; `lipsum` is dropped (random output, and costly on request)."""
    env = HeraldSandbox(
        autoescape=autoescape,
        undefined=StrictUndefined,
        finalize=_finalize,
        auto_reload=False,
        cache_size=0,
        optimized=False,  # no constant folding: saving a version must not run its code
    )
    env.globals.pop("lipsum", None)
    env.globals["range"] = budgeted_range
    env.filters.update(_BOUNDED_FILTERS)
    for name, filter_func in env.filters.items():
        if name not in _PLAIN_FILTERS:
            env.filters[name] = _guarded(
                filter_func,
                iterates=name in _ITERATING_FILTERS,
                writes_text=name in _TEXT_FILTERS,
            )
    return env


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _markup_as_text(value: Any) -> str:
    return html_to_text(_as_text(value))


def build_text_from_html_environment() -> HeraldSandbox:
    """For the text part derived from an email's HTML template: HTML marked safe is converted
    to text, and explicit escaping does nothing (text is never escaped)."""
    env = build_environment(autoescape=False)
    as_text = _guarded(_as_text, iterates=False, writes_text=True)
    env.filters.update(
        safe=_guarded(_markup_as_text, iterates=False, writes_text=True),
        e=as_text,
        escape=as_text,
        forceescape=as_text,
    )
    return env


TEXT = build_environment(autoescape=False)
HTML = build_environment(autoescape=True)
TEXT_FROM_HTML = build_text_from_html_environment()
GLOBALS = dict(TEXT.globals)
