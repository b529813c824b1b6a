"""Variable schemas: checked when a version is saved, enforced on every send and preview.

A variableSchema is a JSON Schema object. Herald makes it strict before validating: every
declared property is required (at every level that declares `properties`), and variables the
schema does not declare are refused unless it sets `additionalProperties` or
`patternProperties` itself. So a template can never meet an undefined declared name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import regex
from jsonschema import Draft3Validator, Draft4Validator, Draft202012Validator, ValidationError
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from referencing import Registry, Resource
from referencing.exceptions import CannotDetermineSpecification, NoSuchResource, Unresolvable

from templates_store.cache import BoundedCache
from templates_store.errors import ErrorDetail
from templates_store.models import TemplateVersion

INVALID_VARIABLES = "ERR_INVALID_VARIABLES"
MAX_PROBLEMS = 50
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMA_SINGLE = ("items", "additionalProperties", "not", "if", "then", "else", "contains")

# Keywords that resolve at run time against something other than the schema's own `#/...` paths.
_DYNAMIC_REFS = ("$dynamicRef", "$recursiveRef")
# Keywords that start a new base URI or dialect where they appear: a `#/...` ref below them would
# point into that sub-schema instead of the variableSchema, and fail on every send.
_SCOPE_KEYWORDS = ("$id", "$schema")
_NOT_SCHEMAS = ("enum", "const", "default", "examples")

_validators: BoundedCache[Validator] = BoundedCache(maxsize=512)


def _refuse_retrieval(uri: str) -> Resource[Any]:
    """Variable validation never fetches anything: jsonschema's default would urlopen the URI."""
    raise NoSuchResource(ref=uri)


# Only the JSON Schema metaschemas (bundled, offline) and the schema itself resolve.
_OFFLINE: Registry[Any] = Registry(retrieve=_refuse_retrieval)


def check_variables(
    version: TemplateVersion,
    variables: Mapping[str, Any],
    *,
    field_prefix: str = "template.variables",
) -> list[ErrorDetail]:
    """Every way `variables` fails the version's schema, each naming its field; [] when valid."""
    if not isinstance(variables, Mapping):
        return [ErrorDetail(INVALID_VARIABLES, "Variables must be a JSON object.", field_prefix)]
    problems: dict[tuple[str, str], ErrorDetail] = {}
    try:
        validator = _validators.get_or_build(
            version.cache_key, lambda: build_validator(version.variable_schema)
        )
        for error in validator.iter_errors(dict(variables)):
            for problem in _problems_for(error, field_prefix):
                problems.setdefault((problem.field or "", problem.message), problem)
            if len(problems) >= MAX_PROBLEMS:
                break
    except (Unresolvable, CannotDetermineSpecification) as exc:
        # A schema saved before references were checked as strictly as now: refuse the send
        # like any other invalid variables rather than failing it with a 500.
        return [_unresolvable(exc, field_prefix)]
    return sorted(problems.values(), key=lambda p: (p.field or "", p.message))


def _unresolvable(exc: Exception, field: str) -> ErrorDetail:
    ref = getattr(exc, "ref", None)
    message = "The template's variableSchema has a reference that cannot be resolved"
    return ErrorDetail(INVALID_VARIABLES, f"{message}: {ref!r}." if ref else f"{message}.", field)


def build_validator(schema: Mapping[str, Any]) -> Validator:
    """A validator for the strict form of a (previously checked) variable schema."""
    cls = _with_bounded_patterns(
        validator_for(schema, default=Draft202012Validator),
        refuse_unevaluated=_unevaluated_with_patterns(schema),
    )
    return cls(strict_schema(schema), format_checker=cls.FORMAT_CHECKER, registry=_OFFLINE)


# Patterns run on what a sender chooses (values, and variable names for `patternProperties`):
# Python's `re`, which jsonschema uses, can backtrack for minutes on a pattern such as
# `^(a|aa)+$`. Every keyword that matches a pattern runs the `regex` engine instead, which avoids
# most such cases and stops at a timeout.
PATTERN_TIMEOUT_S = 0.1


def _search(pattern: str, text: str) -> bool | None:
    """Whether `pattern` matches somewhere in `text`; None when that cannot be told in time."""
    try:
        return regex.search(pattern, text, timeout=PATTERN_TIMEOUT_S) is not None
    except (TimeoutError, regex.error):
        return None


def _not_in_time(text: str, pattern: str) -> str:
    return f"{text!r} could not be matched against {pattern!r} in time"


def _bounded_pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    found = _search(pattern, instance)
    if found is None:
        yield ValidationError(_not_in_time(instance, pattern))
    elif not found:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _bounded_pattern_properties(
    validator: Validator, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            found = _search(pattern, name)
            if found is None:
                yield ValidationError(_not_in_time(name, pattern), path=[name])
            elif found:
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _undeclared(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Names neither in `properties` nor matching a `patternProperties` pattern.

    A name no pattern could be matched against in time is left to `patternProperties`, which
    refuses it: one error for it, not two.
    """
    declared = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        name
        for name in instance
        if name not in declared and all(_search(p, name) is False for p in patterns)
    ]


def _bounded_additional_properties(
    validator: Validator, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    extras = _undeclared(instance, schema)
    if validator.is_type(additional, "object"):
        for name in extras:
            yield from validator.descend(instance[name], additional, path=name)
    elif not additional:
        for name in extras:  # one error each, so that each names its variable
            message = f"Unknown variable {name!r}: the template does not declare it."
            yield ValidationError(message, path=[name])


_BOUNDED_KEYWORDS = {
    "pattern": _bounded_pattern,
    "patternProperties": _bounded_pattern_properties,
    "additionalProperties": _bounded_additional_properties,
}
_bounded_classes: dict[tuple[type[Validator], bool], type[Validator]] = {}

# jsonschema's `unevaluatedProperties` matches `patternProperties` with `re`: not both.
UNEVALUATED_WITH_PATTERNS = (
    "unevaluatedProperties cannot be combined with patternProperties in a variableSchema; "
    "use additionalProperties."
)


def _refuse_unevaluated(
    validator: Validator, value: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    yield ValidationError(UNEVALUATED_WITH_PATTERNS)


def _with_bounded_patterns(cls: type[Validator], *, refuse_unevaluated: bool) -> type[Validator]:
    bounded = _bounded_classes.get((cls, refuse_unevaluated))
    if bounded is None:
        keywords = {k: v for k, v in _BOUNDED_KEYWORDS.items() if k in cls.VALIDATORS}
        if refuse_unevaluated:
            keywords["unevaluatedProperties"] = _refuse_unevaluated
        bounded = extend(cls, keywords)
        _bounded_classes[(cls, refuse_unevaluated)] = bounded
    return bounded


def _unevaluated_with_patterns(schema: Any) -> bool:
    keywords = {keyword for _, keyword, _ in _keywords(schema, "")}
    return {"unevaluatedProperties", "patternProperties"} <= keywords


def strict_schema(schema: Any) -> Any:
    """A copy where declared properties are required and undeclared ones refused by default."""
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    strict: dict[str, Any] = {}
    for name, value in schema.items():
        if name in _SUBSCHEMA_MAPS and isinstance(value, Mapping):
            strict[name] = {key: strict_schema(sub) for key, sub in value.items()}
        elif name in _SUBSCHEMA_LISTS or name in _SUBSCHEMA_SINGLE:
            strict[name] = strict_schema(value)
        else:
            strict[name] = value
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        strict["required"] = sorted(set(schema.get("required", [])) | set(properties))
        if "patternProperties" not in schema:
            strict.setdefault("additionalProperties", False)
    return strict


def check_variable_schema(schema: Any, *, field: str = "variableSchema") -> list[ErrorDetail]:
    """Save-time check: an object-typed, valid JSON Schema whose references all resolve locally,
    within the schema itself (`#/...`), so that validating variables never looks anywhere else."""
    if not isinstance(schema, Mapping):
        return [ErrorDetail("ERR_BAD_REQUEST", "variableSchema must be a JSON object.", field)]
    if schema.get("type") != "object":
        return [ErrorDetail("ERR_BAD_REQUEST", 'variableSchema must have "type": "object".', field)]
    if "$schema" in schema and validator_for(schema, default=None) is None:  # type: ignore[arg-type]
        return [ErrorDetail("ERR_BAD_REQUEST", "Unknown $schema dialect.", f"{field}.$schema")]
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = ".".join([field, *(str(p) for p in exc.absolute_path)])
        return [ErrorDetail("ERR_BAD_REQUEST", f"Not a valid JSON Schema: {exc.message}", where)]
    if _unevaluated_with_patterns(schema):
        return [ErrorDetail("ERR_BAD_REQUEST", UNEVALUATED_WITH_PATTERNS, field)]
    return _reference_problems(schema, field, scope_keywords=_scope_keywords(cls))


def _scope_keywords(cls: type[Validator]) -> tuple[str, ...]:
    if cls in (Draft3Validator, Draft4Validator):
        return (*_SCOPE_KEYWORDS, "id")  # drafts 3 and 4 spell `$id` as `id`
    return _SCOPE_KEYWORDS


def _reference_problems(
    schema: Mapping[str, Any], field: str, *, scope_keywords: tuple[str, ...]
) -> list[ErrorDetail]:
    problems: list[ErrorDetail] = []
    for where, keyword, value in _keywords(schema, field):
        if keyword == "$ref" and resolve_ref(schema, value) is None:
            message = f"Unresolvable $ref {value!r}; only local refs (#/...)."
        elif keyword in _DYNAMIC_REFS:
            message = f"{keyword} is not supported; use a local $ref (#/...)."
        elif keyword in scope_keywords and where != f"{field}.{keyword}" and isinstance(value, str):
            message = f"{keyword} is only allowed at the top level of variableSchema."
        else:
            continue
        problems.append(ErrorDetail("ERR_BAD_REQUEST", message, where))
    return problems


def resolve_ref(root: Mapping[str, Any], ref: str) -> Any:
    """The subschema a local `#/a/b` reference points to, or None."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    node: Any = root
    for raw in [p for p in ref[1:].split("/") if p]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _keywords(schema: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(where, name, value) for every key of every object in the schema, outside literal values.

    Walking every object, not only known sub-schema keywords, errs on the side of refusing: a
    property named "$ref" is checked like a reference.
    """
    if isinstance(schema, Mapping):
        for name, value in schema.items():
            yield f"{path}.{name}", name, value
            if name not in _NOT_SCHEMAS:
                yield from _keywords(value, f"{path}.{name}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _keywords(item, f"{path}.{index}")


def _problems_for(error: ValidationError, prefix: str) -> Iterator[ErrorDetail]:
    base = ".".join([prefix, *(str(p) for p in error.absolute_path)])
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        for name in error.validator_value:
            if name not in instance:
                yield ErrorDetail(
                    INVALID_VARIABLES, f"Missing variable {name!r}.", f"{base}.{name}"
                )
    else:
        yield ErrorDetail(INVALID_VARIABLES, error.message, base)
