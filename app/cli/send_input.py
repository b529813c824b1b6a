"""What `herald send` reads: targets from a file or a list of ids, and template variables.

It builds the body `POST /api/notifications/send` takes; the send API's own schema and checks
then judge it, so a target or variable is refused with the same error either way.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from app.refusals import InvalidRequest
from app.wire import parse_json

FILE_SUFFIXES = (".json", ".csv")
# The columns a CSV file may have: a target object's fields (the send request schema).
CSV_NAMES = ("external_id", "email")


def read_targets(value: str) -> list[Any]:
    """A JSON or CSV file's targets, or comma-separated user ids."""
    path = Path(value)
    if path.suffix.lower() in FILE_SUFFIXES or path.is_file():
        if not path.is_file():
            raise InvalidRequest(f"No targets file {value}.", field="targets")
        return _csv_targets(path) if path.suffix.lower() == ".csv" else _json_targets(path)
    return [item.strip() for item in value.split(",") if item.strip()]


def _json_targets(path: Path) -> list[Any]:
    """A JSON list of user ids and target objects, as the send API's `targets`."""
    try:
        document = parse_json(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{path} is not valid JSON: {exc}", field="targets") from exc
    if not isinstance(document, list):
        message = f"{path} must hold a JSON list of user ids or target objects."
        raise InvalidRequest(message, field="targets")
    return document


def _csv_targets(path: Path) -> list[dict[str, Any]]:
    """One target object per row, named by the header row; empty cells are left out."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        names = [name.strip() for name in reader.fieldnames or []]
        if not set(names) & set(CSV_NAMES):
            message = f"{path} needs a header row naming external_id or email (or both)."
            raise InvalidRequest(message, field="targets")
        reader.fieldnames = names
        return [_csv_target(path, row, line) for line, row in enumerate(reader, start=2)]


def _csv_target(path: Path, row: dict[Any, Any], line: int) -> dict[str, Any]:
    if None in row:
        message = f"{path}, line {line}: more cells than the header row names."
        raise InvalidRequest(message, field="targets")
    target: dict[str, Any] = {}
    for name, cell in row.items():
        text = (cell or "").strip()
        if text:
            target[name] = _attributes(text) if name == "custom_attributes" else text
    return target


def _attributes(text: str) -> Any:
    """A `custom_attributes` cell holds a JSON object; anything else is left for the send API's
    schema to refuse."""
    try:
        return parse_json(text)
    except ValueError:
        return text


def read_variables(items: tuple[str, ...]) -> dict[str, Any]:
    """`NAME=VALUE` gives text; `NAME:=JSON` a typed value (a number, true, a list, ...)."""
    variables: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.rstrip(":").strip():
            message = f"--var expects NAME=VALUE or NAME:=JSON, got {item!r}."
            raise InvalidRequest(message, field="template.variables")
        if name.endswith(":"):
            variables[name[:-1].strip()] = _typed(name[:-1].strip(), raw)
        else:
            variables[name.strip()] = raw
    return variables


def _typed(name: str, raw: str) -> Any:
    try:
        return parse_json(raw)
    except ValueError as exc:
        message = f"--var {name}:= expects JSON: {exc}"
        raise InvalidRequest(message, field=f"template.variables.{name}") from exc
