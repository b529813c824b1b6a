"""Template documents and versions for the template store's tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from templates_store.errors import RenderFailed
from templates_store.models import TemplateVersion
from templates_store.rendering import render

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "customerName": {"type": "string", "minLength": 1},
        "orderId": {"type": "string", "pattern": "^ORD-[0-9]+$"},
    },
}

ORDER_CHANNELS: dict[str, Any] = {
    "in_app": {
        "title": "Order {{ orderId }} confirmed",
        "body": "Thanks {{ customerName }}!",
        "action_url": "https://shop.test/orders/{{ orderId }}",
        "category": "orders",
        "topic": "order-{{ orderId }}",
    },
    "email": {
        "subject": "Your order {{ orderId }}",
        "html": "<p>Hi {{ user.first_name }},</p>\n<p>Thanks {{ customerName }}.</p>",
    },
    "push": {
        "title": "Order confirmed",
        "body": "{{ orderId }} is on its way",
        "data": {"orderId": "{{ orderId }}"},
        "url": "https://shop.test/orders/{{ orderId }}",
    },
}

ORDER_VARIABLES = {"customerName": "Jane", "orderId": "ORD-12345"}


def template_document(key: str = "order-confirmation", **changes: Any) -> dict[str, Any]:
    """A valid create body for the order confirmation template, with changes applied."""
    document = {
        "key": key,
        "name": "Order confirmation",
        "description": "Sent when an order is placed.",
        "tag": "orders",
        "channels": copy.deepcopy(ORDER_CHANNELS),
        "variableSchema": copy.deepcopy(ORDER_SCHEMA),
    }
    document.update(changes)
    return document


def make_version(
    channels: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
    *,
    template_id: str | None = None,
    number: int = 1,
) -> TemplateVersion:
    """An unsaved version, for rendering and validation tests that need no database.

    Each gets a fresh template id, since compiled versions are cached by (id, number).
    """
    template_id = template_id or uuid.uuid4().hex
    return TemplateVersion(
        id=f"{template_id}-v{number}",
        template_id=template_id,
        app_id="app-1",
        version=number,
        status="approved",
        name="test",
        channels=copy.deepcopy(channels if channels is not None else ORDER_CHANNELS),
        variable_schema=copy.deepcopy(schema if schema is not None else ORDER_SCHEMA),
    )


def render_refusal(body: str) -> str:
    """The message of the render error an in-app body gives."""
    version = make_version({"in_app": {"title": "Hi", "body": body}})
    with pytest.raises(RenderFailed) as raised:
        render(version, variables=ORDER_VARIABLES, user={})
    return raised.value.details[0].message
