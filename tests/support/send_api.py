"""The send API's seed 004 example (POST /api/notifications/send) and what its tests share: the
codes of a refusal's errors, and the approved order template the example sends, `template`, a
fixture (this module is a plugin of tests/conftest.py)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import send_request

URL = "/api/notifications/send"
SEED_EXAMPLE = send_request(
    ["user-jane-123"],
    "realtime",
    variables={"customerName": "Jane", "orderId": "ORD-12345"},
    title="Order Confirmed",
    tag="orders",
)


def error_codes(response) -> list[str]:
    return [e["code"] for e in response.get_json()["errors"]]


@pytest.fixture
def template(client: FlaskClient, tenant: Tenant) -> dict:
    """The order confirmation template (tests/support/factories.py), approved."""
    return approved_template(client, tenant)
