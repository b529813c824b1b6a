"""Render a version for one recipient: every channel it has, from its cached compiled form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template

from templates_store.compiler import compiled
from templates_store.errors import Problem, RenderFailed
from templates_store.html_text import html_to_text
from templates_store.models import TemplateVersion
from templates_store.sandbox import RecipientView

PUSH_TEXT_OVERRIDES = ("title", "body", "icon", "url")


@dataclass(frozen=True)
class Rendered:
    """Rendered content per channel; None for a channel the version has no content for."""

    in_app: dict[str, Any] | None
    email: dict[str, Any] | None
    push: dict[str, Any] | None

    @property
    def channel_names(self) -> list[str]:
        return [name for name, content in self._items() if content is not None]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: content for name, content in self._items() if content is not None}

    def _items(self) -> list[tuple[str, dict[str, Any] | None]]:
        return [("in_app", self.in_app), ("email", self.email), ("push", self.push)]


def render(
    version: TemplateVersion,
    *,
    variables: Mapping[str, Any],
    user: Mapping[str, Any],
    push_overrides: Mapping[str, Any] | None = None,
) -> Rendered:
    """Render every channel of a version for one recipient.

    `variables` must have passed `check_variables`; `push_overrides` (a send's
    `notificationPushData`) replaces push title/body/icon/url and merges into push data.
    Raises `RenderFailed` only for values a saved template cannot guard against (e.g. `1 / n`
    with n = 0).
    """
    parts = compiled(version).parts
    context = {**variables, "user": RecipientView.of(user)}
    push = _push(parts["push"], context) if "push" in parts else None
    if push is not None and push_overrides:
        _apply_push_overrides(push, push_overrides)
    return Rendered(
        in_app=_in_app(parts["in_app"], context) if "in_app" in parts else None,
        email=_email(parts["email"], context) if "email" in parts else None,
        push=push,
    )


def check_push_overrides(
    overrides: Any, *, field_prefix: str = "template.notificationPushData"
) -> list[Problem]:
    """Shape check for a send's push overrides: text fields are strings, `data` an object."""
    if overrides is None:
        return []
    if not isinstance(overrides, Mapping):
        return [Problem("ERR_BAD_REQUEST", "Push overrides must be a JSON object.", field_prefix)]
    problems = [
        Problem("ERR_BAD_REQUEST", f"{name} must be a string.", f"{field_prefix}.{name}")
        for name in PUSH_TEXT_OVERRIDES
        if overrides.get(name) is not None and not isinstance(overrides[name], str)
    ]
    if overrides.get("data") is not None and not isinstance(overrides["data"], Mapping):
        message = "data must be an object."
        problems.append(Problem("ERR_BAD_REQUEST", message, f"{field_prefix}.data"))
    return problems


def _in_app(parts: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    field = "channels.in_app"
    return {
        "title": _one_line(_render(parts.get("title"), context, f"{field}.title")),
        "body": _render(parts.get("body"), context, f"{field}.body"),
        "action_url": _stripped(_render(parts.get("action_url"), context, f"{field}.action_url")),
        "category": _stripped(_render(parts.get("category"), context, f"{field}.category")),
        "topic": _stripped(_render(parts.get("topic"), context, f"{field}.topic")),
    }


def _email(parts: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    field = "channels.email"
    html = _render(parts.get("html"), context, f"{field}.html")
    text = _render(parts.get("text"), context, f"{field}.text")
    return {
        "subject": _one_line(_render(parts.get("subject"), context, f"{field}.subject")),
        "html": html,
        "text": text if text is not None or html is None else html_to_text(html),
    }


def _push(parts: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    field = "channels.push"
    data = _render_data(parts.get("data") or {}, context, f"{field}.data")
    return {
        "title": _one_line(_render(parts.get("title"), context, f"{field}.title")),
        "body": _render(parts.get("body"), context, f"{field}.body"),
        "data": data,
        "icon": _stripped(_render(parts.get("icon"), context, f"{field}.icon")),
        "url": _stripped(_render(parts.get("url"), context, f"{field}.url")),
    }


def _apply_push_overrides(push: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for name, value in overrides.items():
        if value is None:
            continue
        if name in PUSH_TEXT_OVERRIDES:
            push[name] = value if isinstance(value, str) else str(value)
        elif name == "data" and isinstance(value, Mapping):
            push["data"] = {**push["data"], **value}
        else:
            push["data"][name] = value


def _render(part: Any, context: dict[str, Any], field: str) -> str | None:
    if part is None or isinstance(part, str):
        return part
    try:
        return part.render(context)
    except Exception as exc:  # template code may raise anything; name the part instead
        raise RenderFailed(f"Rendering failed: {exc}", field=field) from exc


def _render_data(value: Any, context: dict[str, Any], field: str) -> Any:
    if isinstance(value, Template):
        return _render(value, context, field)
    if isinstance(value, dict):
        return {k: _render_data(v, context, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_data(v, context, f"{field}.{i}") for i, v in enumerate(value)]
    return value


def _one_line(value: str | None) -> str | None:
    """Titles and subjects on one line (a newline in a subject would break the header)."""
    return " ".join(value.split()) if value is not None else None


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None
