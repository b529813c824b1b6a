"""Variable schemas: checked when a version is saved, enforced on every send and preview.

A variableSchema is a JSON Schema object. Herald makes it strict before validating: every
declared property is required (at every level that declares `properties`), and variables the
schema does not declare are refused unless it sets `additionalProperties` or
`patternProperties` itself. So a template can never meet an undefined declared name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from templates_store.cache import BoundedCache
from templates_store.errors import Problem
from templates_store.models import TemplateVersion

INVALID_VARIABLES = "ERR_INVALID_VARIABLES"
MAX_PROBLEMS = 50
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMA_SINGLE = ("items", "additionalProperties", "not", "if", "then", "else", "contains")

_validators: BoundedCache[Validator] = BoundedCache(maxsize=512)


def check_variables(
    version: TemplateVersion,
    variables: Mapping[str, Any],
    *,
    field_prefix: str = "template.variables",
) -> list[Problem]:
    """Every way `variables` fails the version's schema, each naming its field; [] when valid."""
    if not isinstance(variables, Mapping):
        return [Problem(INVALID_VARIABLES, "Variables must be a JSON object.", field_prefix)]
    validator = _validators.get_or_build(
        version.cache_key, lambda: build_validator(version.variable_schema)
    )
    problems: dict[tuple[str, str], Problem] = {}
    for error in validator.iter_errors(dict(variables)):
        for problem in _problems_for(error, field_prefix):
            problems.setdefault((problem.field or "", problem.message), problem)
        if len(problems) >= MAX_PROBLEMS:
            break
    return sorted(problems.values(), key=lambda p: (p.field or "", p.message))


def build_validator(schema: Mapping[str, Any]) -> Validator:
    """A validator for the strict form of a (previously checked) variable schema."""
    cls = validator_for(schema, default=Draft202012Validator)
    return cls(strict_schema(schema), format_checker=cls.FORMAT_CHECKER)


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


def check_variable_schema(schema: Any, *, field: str = "variableSchema") -> list[Problem]:
    """Save-time check: an object-typed, valid JSON Schema whose references resolve locally."""
    if not isinstance(schema, Mapping):
        return [Problem("ERR_BAD_REQUEST", "variableSchema must be a JSON object.", field)]
    if schema.get("type") != "object":
        return [Problem("ERR_BAD_REQUEST", 'variableSchema must have "type": "object".', field)]
    if "$schema" in schema and validator_for(schema, default=None) is None:  # type: ignore[arg-type]
        return [Problem("ERR_BAD_REQUEST", "Unknown $schema dialect.", f"{field}.$schema")]
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = ".".join([field, *(str(p) for p in exc.absolute_path)])
        return [Problem("ERR_BAD_REQUEST", f"Not a valid JSON Schema: {exc.message}", where)]
    return [
        Problem("ERR_BAD_REQUEST", f"Unresolvable $ref {ref!r}; only local refs (#/...).", where)
        for where, ref in _refs(schema, field)
        if resolve_ref(schema, ref) is None
    ]


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


def _refs(schema: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(schema, Mapping):
        for name, value in schema.items():
            if name == "$ref":
                yield f"{path}.$ref", value
            elif name not in ("enum", "const", "default", "examples"):
                yield from _refs(value, f"{path}.{name}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _refs(item, f"{path}.{index}")


def _problems_for(error: ValidationError, prefix: str) -> Iterator[Problem]:
    base = ".".join([prefix, *(str(p) for p in error.absolute_path)])
    instance, schema = error.instance, error.schema
    if error.validator == "required" and isinstance(instance, Mapping):
        for name in error.validator_value:
            if name not in instance:
                yield Problem(INVALID_VARIABLES, f"Missing variable {name!r}.", f"{base}.{name}")
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        declared = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
        patterns = list(schema.get("patternProperties", {})) if isinstance(schema, Mapping) else []
        for name in instance:
            if name not in declared and not any(re.search(p, name) for p in patterns):
                message = f"Unknown variable {name!r}: the template does not declare it."
                yield Problem(INVALID_VARIABLES, message, f"{base}.{name}")
    else:
        yield Problem(INVALID_VARIABLES, error.message, base)
