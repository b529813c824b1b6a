"""Support for the OpenAPI-driven fuzz test: the document the API serves, the fuzzer's settings,
an app with one of everything to find, and the headers each generated request carries."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis
from flask.testing import FlaskClient
from schemathesis import Case

from app import create_app
from app.idempotency.models import MAX_KEY_LENGTH
from app.runtime import Runtime
from app.security import user_hmac
from app.tenants.models import App
from tests.support.factories import Tenant, approved_template
from tests.support.inbox import put_in_inbox

# Fixed: every run sends the same requests, so a failure reproduces and CI never flakes.
SEED = 20_240_601
# Per operation and generation mode (valid input, then invalid input), besides the coverage
# phase's boundary cases: ~5,000 requests over the 70 operations, about 100 seconds of one core
# (a minute of CI's two). Raise it locally to search deeper; a new seed searches elsewhere.
MAX_EXAMPLES = 25

# What `populate` creates, under names the fuzzer also tries (half of the time) in the path,
# headers and bodies that name them, so that operations on an existing resource answer more
# than 404 and their success bodies are held to the document too.
TEMPLATE = "order-confirmation"
USER = "fuzz-user"
EMAIL = "fuzz-user@example.com"
GROUP = "fuzz-group"
TOPIC = "fuzz-topic"
DEVICE_TOKEN = "fuzz-device-token"
INBOX_ID = "00000000-0000-4000-8000-00000000f022"

_NAMES = {
    "path.key": [TEMPLATE],
    "path.number": [1],
    "path.user_id": [USER, f"external_id:{USER}", f"email:{EMAIL}"],
    "path.group_id": [GROUP],
    "path.topic": [TOPIC],
    "path.token_or_id": [DEVICE_TOKEN],
    "path.notification_id": [INBOX_ID],
    "header.X-User-External-ID": [USER],
    "body.template.key": [TEMPLATE],
}

CONFIG: dict[str, Any] = {
    "seed": SEED,
    # Generating our larger bodies (templates, sends) is slow by Hypothesis' standards; that is
    # a property of the schemas, not a problem to report.
    "suppress-health-check": ["all"],
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",  # no replays of earlier runs' failures: each run is the same run
        "no-shrink": True,  # a failure is reported as found; shrinking would multiply requests
        # The test sends the tenant's real credentials; random ones would only ever meet a 401.
        "with-security-parameters": False,
    },
    "phases": {
        "stateful": {"enabled": False},
        # Undocumented methods are refused before any view runs (405); not this test's subject.
        "coverage": {"unexpected-methods": []},
    },
    "dictionaries": {binding: {"values": values} for binding, values in _NAMES.items()},
    "parameters": {binding: {"dictionary": binding, "probability": 0.5} for binding in _NAMES},
}


def served_document() -> dict[str, Any]:
    """`/openapi.json` as the API serves it, from an app built just to read it (building the
    document touches neither the database nor Redis)."""
    flask_app = create_app()
    try:
        document: dict[str, Any] = flask_app.test_client().get("/openapi.json").get_json()
    finally:
        flask_app.extensions["herald"].close()
    return document


def load_schema() -> Any:
    """The served document as the fuzzer's schema, with its fixed settings."""
    config = schemathesis.Config.from_dict(CONFIG)
    return schemathesis.openapi.from_dict(served_document(), config=config)


def unlimit(runtime: Runtime, tenant: Tenant) -> None:
    """Rate limits the fuzzer's thousands of requests cannot reach (changed through the ORM, so
    that the credential caches learn of it)."""
    with runtime.database.transaction() as session:
        app = session.get(App, tenant.app_id)
        assert app is not None
        app.rate_limit_read_per_minute = app.rate_limit_write_per_minute = 1_000_000


def populate(client: FlaskClient, runtime: Runtime, tenant: Tenant) -> None:
    """One of everything, under the names above: a user in a group with a topic subscription,
    preferences, a push subscription and an inbox notification; an approved template; a send,
    a broadcast and an import."""
    server, user = tenant.headers(), tenant.user_headers(USER)
    approved_template(client, tenant, TEMPLATE)
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("POST", "/users", {"user": {"external_id": USER, "email": EMAIL}}, server),
        ("PUT", f"/api/groups/{GROUP}", {"members": [USER]}, server),
        ("POST", "/subscriptions", {"subscription": {"topic": TOPIC, "categories": []}}, user),
        ("PUT", "/notification_preferences", _PREFERENCES, user),
        ("POST", "/push_subscriptions", _PUSH_SUBSCRIPTION, user),
        ("POST", "/api/notifications/send", _SEND, server),
        ("POST", "/broadcasts", _BROADCAST, server),
        ("POST", "/imports", {"import": {"users": [{"external_id": "imported"}]}}, server),
    ]
    for method, url, body, headers in requests:
        response = client.open(url, method=method, json=body, headers=headers)
        assert response.status_code < 300, (url, response.get_json())
    put_in_inbox(runtime, tenant, USER, id=INBOX_ID, category="orders", topic=TOPIC)


_PREFERENCES = {
    "notification_preferences": {
        "categories": [{"slug": "orders", "channels": [{"slug": "email", "enabled": False}]}]
    }
}
_BROADCAST = {"broadcast": {"title": "Hi", "recipients": [{"email": EMAIL}]}}
_PUSH_SUBSCRIPTION = {"push_subscription": {"platform": "ios", "device_token": DEVICE_TOKEN}}
_SEND = {
    "template": {"key": TEMPLATE, "variables": {"customerName": "Jane", "orderId": "ORD-1"}},
    "targets": [USER],
    "mode": "realtime",  # delivered at once: the user's history and inbox show it
}


def request_headers(case: Case, tenant: Tenant) -> dict[str, str]:
    """What the fuzzer's request carries besides what it generated: credentials, and an
    Idempotency-Key of its own for every request that has one."""
    return {**_credentials(case, tenant), **_unique_idempotency_key(case)}


def _credentials(case: Case, tenant: Tenant) -> dict[str, str]:
    """The tenant's credentials in the form the operation's security schemes ask for: the
    secret for a server call; the public key and an HMAC of whichever identity the fuzzer
    generated for a user call (none generated: the API must answer 400, and does)."""
    security: list[dict[str, list[str]]] = case.operation.definition.raw.get("security", [])
    schemes = {name for requirement in security for name in requirement}
    if "userHmac" in schemes:
        identity = _header(case, "X-User-External-ID") or _header(case, "X-User-Email")
        return {"X-API-Key": tenant.api_key, "X-User-HMAC": user_hmac(tenant.secret, identity)}
    return tenant.headers() if schemes else {}


def _unique_idempotency_key(case: Case) -> dict[str, str]:
    """The fuzzer repeats short keys across different bodies, which the API rightly answers
    with 409 idempotency_key_reused: the body, not the key, should decide the answer. A key
    too long to store is kept, to be refused."""
    key = _header(case, "Idempotency-Key")
    if not key or len(key) > MAX_KEY_LENGTH:
        return {}
    return {"Idempotency-Key": uuid.uuid4().hex}


def _header(case: Case, name: str) -> str:
    """A generated header as the API reads it (trimmed; see `app.auth`)."""
    value = (case.headers or {}).get(name)
    return str(value).strip() if value is not None else ""
