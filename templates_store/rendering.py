"""Render a version for one recipient: every channel it has, from its cached compiled form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from templates_store.checks import RECIPIENT, UNSUBSCRIBE_URL
from templates_store.compiled import compiled
from templates_store.errors import ErrorDetail
from templates_store.models import TemplateVersion
from templates_store.sandbox import GLOBALS, RecipientView

PUSH_TEXT_OVERRIDES = ("title", "body", "icon", "url")


@dataclass(frozen=True)
class Rendered:
    """Rendered content per channel; None for a channel the version has no content for."""

    in_app: dict[str, Any] | None
    email: dict[str, Any] | None
    push: dict[str, Any] | None

    @property
    def mobile_push(self) -> None:
        """A template's push channel serves browsers and devices alike: no mobile part."""
        return None

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
    unsubscribe_url: str = "",
) -> Rendered:
    """Render every channel of a version for one recipient.

    `variables` must have passed `check_variables`; `push_overrides` (a send's
    `notificationPushData`) replaces push title/body/icon/url and merges into push data;
    `unsubscribe_url` is the recipient's one-click unsubscribe link ("" when there is none).
    Raises `RenderFailed` only for values a saved template cannot guard against (e.g. `1 / n`
    with n = 0).
    """
    context = {
        **GLOBALS,
        **variables,
        RECIPIENT: RecipientView.of(user),
        UNSUBSCRIBE_URL: unsubscribe_url,
    }
    out = compiled(version).render_fields(context)
    channels = version.channels
    push = None
    if "push" in channels:
        push = _push(out, channels["push"].get("data"))
        if push_overrides:
            _apply_push_overrides(push, push_overrides)
    return Rendered(
        in_app=_in_app(out) if "in_app" in channels else None,
        email=_email(out) if "email" in channels else None,
        push=push,
    )


def check_push_overrides(
    overrides: Any, *, field_prefix: str = "template.notificationPushData"
) -> list[ErrorDetail]:
    """Shape check for a send's push overrides: text fields are strings, `data` an object."""
    if overrides is None:
        return []
    if not isinstance(overrides, Mapping):
        return [
            ErrorDetail("ERR_BAD_REQUEST", "Push overrides must be a JSON object.", field_prefix)
        ]
    problems = [
        ErrorDetail("ERR_BAD_REQUEST", f"{name} must be a string.", f"{field_prefix}.{name}")
        for name in PUSH_TEXT_OVERRIDES
        if overrides.get(name) is not None and not isinstance(overrides[name], str)
    ]
    if overrides.get("data") is not None and not isinstance(overrides["data"], Mapping):
        message = "data must be an object."
        problems.append(ErrorDetail("ERR_BAD_REQUEST", message, f"{field_prefix}.data"))
    return problems


def _in_app(out: dict[str, Any]) -> dict[str, Any]:
    get = out.get
    return {
        "title": _one_line(get("channels.in_app.title")),
        "body": get("channels.in_app.body"),
        "action_url": _stripped(get("channels.in_app.action_url")),
        "category": _stripped(get("channels.in_app.category")),
        "topic": _stripped(get("channels.in_app.topic")),
    }


def _email(out: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject": _one_line(out.get("channels.email.subject")),
        "html": out.get("channels.email.html"),
        "text": out.get("channels.email.text"),
    }


def _push(out: dict[str, Any], data: Any) -> dict[str, Any]:
    get = out.get
    return {
        "title": _one_line(get("channels.push.title")),
        "body": get("channels.push.body"),
        "data": _rendered_data(out, data or {}, "channels.push.data"),
        "icon": _stripped(get("channels.push.icon")),
        "url": _stripped(get("channels.push.url")),
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


def _rendered_data(out: dict[str, Any], value: Any, path: str) -> Any:
    """The push data's shape with each string replaced by its rendered output."""
    if isinstance(value, str):
        return out[path]
    if isinstance(value, Mapping):
        return {k: _rendered_data(out, v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered_data(out, v, f"{path}.{i}") for i, v in enumerate(value)]
    return value


def _one_line(value: str | None) -> str | None:
    """Titles and subjects on one line (a newline in a subject would break the header)."""
    return " ".join(value.split()) if value is not None else None


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None
