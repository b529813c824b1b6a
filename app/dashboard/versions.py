"""What the templates pages show of a version: its content as comparable lines, a side-by-side
diff of two versions (difflib), and example variables drawn from its variable schema."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from templates_store.models import TemplateVersion

# By JSON Schema type, when a property offers neither `examples` nor a `default`.
EXAMPLE_BY_TYPE: dict[str, Any] = {
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "null": None,
}


@dataclass(frozen=True)
class DiffRow:
    """One line of each side (None where a side has no line there) and what changed."""

    kind: str  # "equal", "replace", "delete" or "insert"
    left_number: int | None
    left: str | None
    right_number: int | None
    right: str | None


def content_lines(version: TemplateVersion) -> list[str]:
    """A version's content as stable, readable lines (what a reviewer compares)."""
    document = {
        "name": version.name,
        "description": version.description,
        "tag": version.tag,
        "channels": version.channels,
        "variableSchema": version.variable_schema,
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def side_by_side(left: list[str], right: list[str]) -> list[DiffRow]:
    """Every line of both sides, aligned, each pair marked with how it changed."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for kind, i1, i2, j1, j2 in matcher.get_opcodes():
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            rows.append(
                DiffRow(
                    kind=kind,
                    left_number=i + 1 if i < i2 else None,
                    left=left[i] if i < i2 else None,
                    right_number=j + 1 if j < j2 else None,
                    right=right[j] if j < j2 else None,
                )
            )
    return rows


def example_variables(schema: dict[str, Any]) -> dict[str, Any]:
    """Variables a preview can render with: each property's example, default, or a stand-in."""
    return {name: _example(name, sub) for name, sub in (schema.get("properties") or {}).items()}


def _example(name: str, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return f"example {name}"
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object":
        return example_variables(schema)
    if schema.get("format") == "email":
        return "jane@example.com"
    return EXAMPLE_BY_TYPE.get(kind, f"example {name}") if kind != "string" else f"example {name}"
