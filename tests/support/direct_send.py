"""The direct send API's seed 003 example (POST /api/v1/notifications/send) and the allow-list
its tests arrange: `allow_example_com`, a fixture (this module is a plugin of tests/conftest.py).
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.factories import Tenant

URL = "/api/v1/notifications/send"
SEED_EXAMPLE = {
    "channels": ["email"],
    "to": ["alice@example.com", "bob@outside.com"],
    "subject": "Launch deck ready for review",
    "body": "The updated deck is attached to the project workspace.",
    "body_html": "<p>The updated deck is attached to the project workspace.</p>",
}


@pytest.fixture
def allow_example_com(client: FlaskClient, tenant: Tenant) -> None:
    """The app's allow-list admits addresses at example.com; being a registered user admits
    no one."""
    body = {
        "enabled": True,
        "domains": ["example.com"],
        "emails": [],
        "allowRegisteredUsers": False,
    }
    assert (
        client.put("/api/apps/current/allow_list", json=body, headers=tenant.headers()).status_code
        == 200
    )
