"""Benchmark: render one template version for a 10,000-recipient batch (run by hand).

    .venv/bin/python bench/render.py [--recipients 10000]

Renders all three channels (in-app, an HTML email whose text part is derived from the HTML,
push) with per-recipient attributes, as a batch send does: variables are checked once, then
each recipient is rendered from the cached compiled version. Prints CPU seconds
(time.process_time) and microseconds per recipient.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import app.models  # noqa: F401  (maps every model, so a TemplateVersion can be built)
from templates_store.checks import check_channels
from templates_store.models import TemplateVersion
from templates_store.rendering import render
from templates_store.variables import check_variables

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "orderId": {"type": "string"},
        "total": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "quantity": {"type": "integer"},
                    "price": {"type": "string"},
                },
            },
        },
        "trackingUrl": {"type": "string", "format": "uri"},
    },
}

HTML = """<!doctype html>
<html><head><meta charset="utf-8"><style>body{font-family:sans-serif}</style></head>
<body>
  <h1>Thanks for your order, {{ user.first_name | default("friend") }}!</h1>
  <p>Order <strong>{{ orderId }}</strong> is confirmed and will ship soon.</p>
  <table>
    {% for line in lines %}
    <tr><td>{{ line.name }}</td><td>{{ line.quantity }}</td><td>{{ line.price }}</td></tr>
    {% endfor %}
  </table>
  <p>Total: {{ total }}</p>
  {% if user.custom_attributes.tier == "gold" %}<p>Gold members get free returns.</p>{% endif %}
  <p><a href="{{ trackingUrl }}">Track your parcel</a></p>
  <p style="color:#888">Sent to {{ user.email }}. Questions? Reply to this email.</p>
</body></html>
"""

CHANNELS: dict[str, Any] = {
    "in_app": {
        "title": "Order {{ orderId }} confirmed",
        "body": "Hi {{ user.first_name | default('there') }}, your order is on its way.",
        "action_url": "https://shop.example.com/orders/{{ orderId }}",
        "category": "orders",
    },
    "email": {
        "subject": "{{ user.first_name }}, your order {{ orderId }} is confirmed",
        "html": HTML,
    },
    "push": {
        "title": "Order confirmed",
        "body": "{{ orderId }}: {{ total }}",
        "data": {"orderId": "{{ orderId }}", "recipient": "{{ user.external_id }}"},
        "url": "{{ trackingUrl }}",
    },
}

VARIABLES = {
    "orderId": "ORD-12345",
    "total": "€84.50",
    "lines": [
        {"name": "Running shoes", "quantity": 1, "price": "€69.00"},
        {"name": "Socks <3-pack>", "quantity": 2, "price": "€7.75"},
    ],
    "trackingUrl": "https://track.example.com/ORD-12345",
}


def recipients(count: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"user-{i}",
            "email": f"user{i}@example.com",
            "first_name": f"Name{i}",
            "last_name": "Example",
            "custom_attributes": {"tier": "gold" if i % 3 == 0 else "silver"},
        }
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    count = parser.parse_args().recipients
    assert check_channels(CHANNELS, SCHEMA) == [], "the benchmark template must be saveable"
    version = TemplateVersion(
        id="bench-v1", template_id="bench", app_id="bench", version=1, status="approved",
        channels=CHANNELS, variable_schema=SCHEMA,
    )  # fmt: skip
    users = recipients(count)

    started = time.process_time()
    assert check_variables(version, VARIABLES) == []
    for user in users:  # each result goes to delivery; a batch does not keep them all
        rendered = render(version, variables=VARIABLES, user=user)
    elapsed = time.process_time() - started

    sample = rendered.email or {}
    assert f"Name{count - 1}" in sample["subject"] and "Track your parcel (" in sample["text"]
    print(f"recipients:     {count}")
    print(f"CPU seconds:    {elapsed:.3f}  (process_time; with the variable check and compile)")
    print(f"per recipient:  {elapsed / count * 1e6:.1f} µs (in_app + email html/text + push)")


if __name__ == "__main__":
    main()
