"""The Jinja environments templates render in: sandboxed, strict, autoescaping only for HTML.

Variables are undefined-strict (the schema guarantees they exist); the recipient (`user`) is
lenient, because a missing first name or custom attribute must render empty, not fail a send.

A render cannot be interrupted, so the sandbox bounds what one render may do: how long a string
or list any operation may build, how large a number, and how many items all its loops and
iterating filters may go through together (one `RenderBudget` per render).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg

from templates_store.html_text import html_to_text
from templates_store.limits import (
    BOUNDED_FILTERS,
    MAX_ITERATIONS,
    MAX_REPEAT,
    budgeted,
    budgeted_range,
    charge_output,
    check_bits,
    check_grown,
    check_power,
    check_sum,
    check_width,
    checked_method_args,
    format_width,
    padded_size,
)


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
        check_width(padded_size(obj, args, kwargs))
        if isinstance(obj, LoopContext) and args:  # `loop(children)` in a recursive loop
            args = (budgeted(args[0]), *args[1:])
        args = checked_method_args(obj, args)
        result = super().call(context, obj, *args, **kwargs)
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str) and isinstance(result, str):
            check_grown(len(result), len(owner))
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "+":
            check_sum(left, right)
        elif operator == "**":
            check_power(left, right)
        elif operator == "*":
            if _repeat_size(left, right) > MAX_REPEAT:
                raise SecurityError(f"Repetitions longer than {MAX_REPEAT} are not allowed.")
            if isinstance(left, int) and isinstance(right, int):
                check_bits(abs(left).bit_length() + abs(right).bit_length())
        elif operator == "%" and isinstance(left, str):
            check_width(format_width(left, right))
        result = super().call_binop(context, operator, left, right)
        if isinstance(left, str) and isinstance(result, str):  # `%` formatting's actual size
            check_grown(len(result), len(left))
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
        check_grown(len(value), 0)
        return value


def _lenient(obj: Any, name: Any, value: Any) -> Any:
    if isinstance(obj, RecipientView) and isinstance(value, Undefined):
        return ChainableUndefined(obj=obj, name=name)
    return value


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
            check_grown(len(result), before)
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
    env.filters.update(BOUNDED_FILTERS)
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
