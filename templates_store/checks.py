"""Save-time checks of a version's channel content: nothing saved may fail to render.

Everything that could make a render of a saved version fail is refused here, naming the channel
and part (`channels.email.html`): syntax errors (with the line), unknown filters and tests,
names not declared in the variableSchema (other than `user` and `unsubscribe_url`, which Herald
provides), and code reaching for Python internals.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes

from templates_store.errors import ErrorDetail
from templates_store.models import CHANNEL_ORDER
from templates_store.sandbox import HTML, TEXT, HeraldCodeGenerator, HeraldSandbox
from templates_store.variables import resolve_ref

PARTS = {
    "in_app": ("title", "body", "action_url", "category", "topic"),
    "email": ("subject", "html", "text"),
    "push": ("title", "body", "data", "icon", "url"),
}
RECIPIENT = "user"
# The recipient's one-click unsubscribe link, which Herald provides to every render.
UNSUBSCRIBE_URL = "unsubscribe_url"
PROVIDED = {RECIPIENT: "the recipient", UNSUBSCRIBE_URL: "the recipient's unsubscribe link"}
JINJA_MARKERS = ("{{", "{%", "{#")
# Filters that look attributes up by name: the names must be literal and public.
_ATTRIBUTE_FILTERS = {
    "attr",
    "map",
    "selectattr",
    "rejectattr",
    "sort",
    "groupby",
    "sum",
    "unique",
    "min",
    "max",
}
_MAPPING_METHODS = {"items", "keys", "values", "get"}
# Each part is a template on its own: no inheritance, includes, imports or blocks.
_NOT_ALLOWED = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport, nodes.Block)


def environment_for(channel: str, part: str) -> HeraldSandbox:
    """HTML autoescaping for `email.html` and only there."""
    return HTML if (channel, part) == ("email", "html") else TEXT


def iter_sources(channels: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(channel, part, field path, source) for every template string in the channels."""
    for channel in CHANNEL_ORDER:
        content = channels.get(channel) or {}
        for part in PARTS[channel]:
            value = content.get(part)
            if part == "data" and value is not None:
                yield from _data_sources(value, "channels.push.data")
            elif isinstance(value, str):
                yield channel, part, f"channels.{channel}.{part}", value


def _data_sources(value: Any, path: str) -> Iterator[tuple[str, str, str, str]]:
    if isinstance(value, str):
        yield "push", "data", path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _data_sources(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _data_sources(item, f"{path}.{index}")


def check_channels(
    channels: Mapping[str, Any], variable_schema: Mapping[str, Any]
) -> list[ErrorDetail]:
    """Every problem in every template string of the channels; [] when all can be saved."""
    declared = variable_schema.get("properties") or {}
    problems: list[ErrorDetail] = []
    for name, what in PROVIDED.items():
        if name in declared:
            message = f"'{name}' is {what} and cannot be declared as a variable."
            field = f"variableSchema.properties.{name}"
            problems.append(ErrorDetail("ERR_BAD_REQUEST", message, field))
    for channel, part, field, source in iter_sources(channels):
        env = environment_for(channel, part)
        problems.extend(check_source(source, env=env, field=field, schema=variable_schema))
    return problems


def check_source(
    source: str, *, env: HeraldSandbox, field: str, schema: Mapping[str, Any]
) -> list[ErrorDetail]:
    """Problems of one template string: syntax, safety, then undeclared names."""
    try:
        ast = env.parse(source)
        problems = [ErrorDetail("ERR_BAD_REQUEST", m, field) for m in _unsafe(ast, env)]
        if not problems:
            problems = [
                ErrorDetail("ERR_BAD_REQUEST", m, field) for m in _undeclared(ast, env, schema)
            ]
        if not problems:
            env.compile(source)
    except TemplateSyntaxError as exc:
        message = f"Template syntax error on line {exc.lineno}: {exc.message}"
        return [ErrorDetail("ERR_BAD_REQUEST", message, field)]
    return problems


def _unsafe(ast: nodes.Template, env: HeraldSandbox) -> list[str]:
    found: list[str] = []
    for node in ast.find_all(nodes.Node):
        where = f"line {node.lineno}"
        if isinstance(node, _NOT_ALLOWED):
            found.append(f"Templates cannot extend, include, import or define blocks ({where}).")
        elif isinstance(node, nodes.Name) and node.name == "self":
            found.append(f"'self' is not available in Herald templates ({where}).")
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            found.append(f"Access to {node.attr!r} is not allowed ({where}).")
        elif isinstance(node, nodes.Getattr) and node.attr in ("format", "format_map"):
            found.append(f"Use the format filter instead of .{node.attr}() ({where}).")
        elif isinstance(node, nodes.Getitem) and _private_constant(node.arg):
            found.append(f"Access to {node.arg.value!r} is not allowed ({where}).")  # type: ignore[attr-defined]
        elif isinstance(node, nodes.Filter | nodes.Test):
            found.extend(_filter_problems(node, env, where))
    return found


def _filter_problems(node: nodes.Filter | nodes.Test, env: HeraldSandbox, where: str) -> list[str]:
    kind, known = ("filter", env.filters) if isinstance(node, nodes.Filter) else ("test", env.tests)
    if node.name not in known:
        return [f"No {kind} named {node.name!r} ({where})."]
    if kind != "filter" or node.name not in _ATTRIBUTE_FILTERS:
        return []
    arguments = [*node.args, *(kw.value for kw in node.kwargs)]
    literal = all(isinstance(a, nodes.Const) for a in arguments)
    if node.dyn_args or node.dyn_kwargs or not literal:
        return [f"The {node.name} filter needs literal attribute names ({where})."]
    if any(_private_constant(a) for a in arguments):
        return [f"The {node.name} filter cannot reach private attributes ({where})."]
    return []


def _private_constant(node: nodes.Node) -> bool:
    if not isinstance(node, nodes.Const) or not isinstance(node.value, str):
        return False
    return node.value.startswith("_") or "._" in node.value


def _undeclared(ast: nodes.Template, env: HeraldSandbox, schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("properties") or {}
    names = _undeclared_names(ast) - set(PROVIDED) - set(declared) - set(env.globals)
    found = [f"Variable {name!r} is not declared in variableSchema." for name in sorted(names)]
    assigned = {n.name for n in ast.find_all(nodes.Name) if n.ctx != "load"}
    for path in _attribute_paths(ast):
        if path[0] in declared and path[0] not in assigned:
            missing = _undeclared_path(schema, declared[path[0]], path)
            if missing:
                found.append(f"Variable {missing!r} is not declared in variableSchema.")
    return sorted(set(found), key=found.index)


class _NameTracker(meta.TrackingCodeGenerator, HeraldCodeGenerator):
    """`meta.find_undeclared_variables`'s tracker on Herald's code generator: Jinja's own would
    evaluate constant filter calls (`{{ 'x' | replace('', 'y') }}`) while the version is saved."""


def _undeclared_names(ast: nodes.Template) -> set[str]:
    tracker = _NameTracker(ast.environment)
    tracker.visit(ast)
    return tracker.undeclared_identifiers


def _attribute_paths(ast: nodes.Template) -> Iterator[list[Any]]:
    """`a.b[0].c` as ["a", "b", 0, "c"], for every literal attribute chain on a name."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        path: list[Any] = []
        current: nodes.Node = node
        while True:
            if isinstance(current, nodes.Getattr):
                path.append(current.attr)
            elif isinstance(current, nodes.Getitem) and isinstance(current.arg, nodes.Const):
                path.append(current.arg.value)
            else:
                break
            current = current.node
        if isinstance(current, nodes.Name) and path:
            yield [current.name, *reversed(path)]


def _undeclared_path(root: Mapping[str, Any], schema: Any, path: list[Any]) -> str | None:
    """The dotted prefix of `path` the schema does not declare, or None when it is declared."""
    for depth, part in enumerate(path[1:], start=1):
        while isinstance(schema, Mapping) and "$ref" in schema:
            schema = resolve_ref(root, schema["$ref"])
        if not isinstance(schema, Mapping):
            return None
        if isinstance(part, int):
            schema = schema.get("items")
            continue
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return None
        if part in properties:
            schema = properties[part]
        elif not _closed(schema) or part in _MAPPING_METHODS:
            return None
        else:
            return ".".join(str(p) for p in path[: depth + 1])
    return None


def _closed(schema: Mapping[str, Any]) -> bool:
    """Whether an object schema refuses properties it does not declare (Herald's default)."""
    return not schema.get("additionalProperties") and not schema.get("patternProperties")
