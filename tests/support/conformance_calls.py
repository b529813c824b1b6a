"""A successful request to every operation of the OpenAPI document, in an order that makes each
one possible (what is read exists, what is deleted was made), answering each success status an
operation documents: the conformance test sends them through a client that holds every
response to the document (`tests.support.openapi_conformance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, Tenant, approved_template
from tests.support.inbox import put_in_inbox
from tests.support.mobile_push_keys import new_apns_key, new_service_account

TEMPLATE = "order-confirmation"
VARIABLES = {"customerName": "Jane", "orderId": "ORD-1"}
USER = "conformance-user"
TOPIC = "conformance-topic"
CATEGORIES = {"categories": [{"slug": "orders"}]}


@dataclass(frozen=True)
class Caller:
    """Requests as the tenant's server (`server`) or as its user `USER` (`user`), each
    required to answer `expected`."""

    client: FlaskClient
    tenant: Tenant

    def server(self, method: str, url: str, expected: int, body: Any = None) -> Any:
        return self._call(method, url, expected, body, self.tenant.headers())

    def user(self, method: str, url: str, expected: int, body: Any = None) -> Any:
        return self._call(method, url, expected, body, self.tenant.user_headers(USER))

    def public(self, url: str, expected: int) -> Any:
        return self._call("GET", url, expected, None, {})

    def _call(
        self, method: str, url: str, expected: int, body: Any, headers: dict[str, str]
    ) -> Any:
        response = self.client.open(url, method=method, json=body, headers=headers)
        assert response.status_code == expected, (method, url, response.get_data(as_text=True))
        return response.get_json() if response.is_json else None


def exercise_every_operation(caller: Caller, runtime: Runtime) -> None:
    """Each operation of the document, answering each of its success statuses."""
    approved_template(caller.client, caller.tenant, TEMPLATE)
    _health_and_settings(caller)
    _templates(caller)
    _users_and_groups(caller)
    _sends(caller)
    _broadcasts_imports_and_metrics(caller)
    _suppressions(caller)
    _inbox(caller, runtime)
    _user_settings(caller)
    _push_providers(caller)
    _webhooks(caller)
    caller.server("DELETE", f"/users/external_id:{USER}", 204)


def _health_and_settings(caller: Caller) -> None:
    caller.public("/healthz", 200)
    caller.public("/readyz", 200)
    caller.server("GET", "/api/apps/current", 200)
    caller.server("PATCH", "/api/apps/current", 200, {"senderName": "Conformance"})
    caller.server("GET", "/api/apps/current/allow_list", 200)
    caller.server("PUT", "/api/apps/current/allow_list", 200, {"enabled": False})


def _templates(caller: Caller) -> None:
    key, url = "conformance", "/api/templates/conformance"
    document = {"name": "Conformance", "channels": ORDER_CHANNELS, "variableSchema": ORDER_SCHEMA}
    caller.server("POST", "/api/templates", 201, {"key": key, **document})
    caller.server("GET", "/api/templates", 200)
    caller.server("GET", url, 200)
    caller.server("POST", f"{url}/submit", 200, {})
    caller.server("POST", f"{url}/reject", 200, {"reason": "Too terse."})
    caller.server("PUT", url, 201, {**document, "description": "Second try"})
    caller.server("GET", f"{url}/versions", 200)
    caller.server("GET", f"{url}/versions/1", 200)
    caller.server("POST", f"{url}/submit", 200, {})
    caller.server("POST", f"{url}/approve", 200, {})
    caller.server("POST", f"{url}/preview", 200, {"variables": VARIABLES})
    caller.server("DELETE", url, 204)


def _users_and_groups(caller: Caller) -> None:
    user_url = f"/users/external_id:{USER}"
    caller.server("POST", "/users", 201, {"user": {"external_id": USER, "first_name": "Ada"}})
    caller.server("GET", "/users", 200)
    caller.server("GET", user_url, 200)
    caller.server("PUT", user_url, 200, {"user": {"email": "ada@example.com"}})
    caller.server("PUT", "/api/groups/staff", 200, {"members": [USER]})
    caller.server("GET", "/api/groups", 200)
    caller.server("GET", "/api/groups/staff", 200)
    caller.server("POST", "/api/groups/staff/members/newcomer", 201)
    caller.server("POST", "/api/groups/staff/members/newcomer", 200)
    caller.server("DELETE", "/api/groups/staff/members/newcomer", 204)
    caller.server("DELETE", "/api/groups/other", 404)
    caller.server("PUT", "/api/groups/other", 200, {"members": []})
    caller.server("DELETE", "/api/groups/other", 204)


def _sends(caller: Caller) -> None:
    send = {"template": {"key": TEMPLATE, "variables": VARIABLES}, "targets": [USER]}
    caller.server("POST", "/api/notifications/send", 200, {**send, "mode": "realtime"})
    batch = caller.server("POST", "/api/notifications/send", 202, {**send, "mode": "batch"})
    url = f"/api/notifications/{batch['notificationId']}"
    caller.server("GET", "/api/notifications", 200)
    caller.server("GET", url, 200)
    caller.server("GET", f"{url}/deliveries", 200)
    caller.server("POST", f"{url}/cancel", 200)
    _scheduled_sends(caller, send)
    direct = {"to": ["ada@example.com"], "subject": "Hello", "body": "Hi Ada."}
    caller.server("POST", "/api/v1/notifications/send", 202, direct)
    caller.server("POST", "/send", 200, {"to": [{"type": "group", "id": "staff"}], "data": {}})
    user_url = f"/users/external_id:{USER}"
    caller.server("GET", f"{user_url}/notifications", 200)


def _scheduled_sends(caller: Caller, send: dict[str, Any]) -> None:
    """A send, a direct send and a broadcast scheduled an hour ahead; the first one moved,
    listed and cancelled."""
    later = datetime.now(UTC) + timedelta(hours=1)
    body = {**send, "mode": "batch", "sendAt": later.isoformat()}
    scheduled = caller.server("POST", "/api/notifications/send", 202, body)
    url = f"/api/notifications/{scheduled['notificationId']}"
    caller.server("PATCH", url, 200, {"sendAt": (later + timedelta(hours=1)).isoformat()})
    caller.server("GET", "/api/notifications?status=scheduled", 200)
    caller.server("POST", f"{url}/cancel", 200)
    direct = {"to": ["ada@example.com"], "subject": "Later", "body": "Hi Ada."}
    caller.server("POST", "/api/v1/notifications/send", 202, {**direct, "send_at": body["sendAt"]})
    broadcast = {"title": "Later", "recipients": [{"external_id": USER}]}
    caller.server(
        "POST", "/broadcasts", 201, {"broadcast": {**broadcast, "send_at": int(later.timestamp())}}
    )


def _broadcasts_imports_and_metrics(caller: Caller) -> None:
    fields = {"title": "Hello", "recipients": [{"external_id": USER}, {"topic": TOPIC}]}
    created = caller.server("POST", "/broadcasts", 201, {"broadcast": fields})
    caller.server("POST", "/notifications", 201, {"notification": fields})
    caller.server("POST", "/", 201, {"notification": fields})
    url = f"/broadcasts/{created['broadcast']['id']}"
    caller.server("GET", "/broadcasts", 200)
    caller.server("GET", url, 200)
    caller.server("GET", f"{url}/notifications", 200)
    records = [{"external_id": "imported"}, {"email": "not an email"}]
    started = caller.server("POST", "/imports", 201, {"import": {"users": records}})
    caller.server("GET", f"/imports/{started['import']['id']}", 200)
    for url in ("/metrics", "/metrics/categories", "/metrics/topics"):
        caller.server("GET", url, 200)


def _suppressions(caller: Caller) -> None:
    caller.server("POST", "/api/suppressions", 201, {"emails": ["gone@example.com"]})
    caller.server("GET", "/api/suppressions?reason=manual", 200)
    caller.server("DELETE", "/api/suppressions/gone@example.com", 204)


def _inbox(caller: Caller, runtime: Runtime) -> None:
    one = put_in_inbox(runtime, caller.tenant, USER, category="orders", topic=TOPIC)
    caller.user("GET", "/notifications", 200)
    caller.user("GET", f"/notifications/{one}", 200)
    for action in ("read", "unread", "archive", "unarchive"):
        caller.user("POST", f"/notifications/{one}/{action}", 204)
    caller.user("POST", "/notifications/read", 204)
    caller.user("POST", "/notifications/seen", 204)
    caller.user("DELETE", f"/notifications/{one}", 204)


def _user_settings(caller: Caller) -> None:
    caller.user("GET", "/config", 200)
    preferences = {
        "categories": [{"slug": "orders", "channels": [{"slug": "email", "enabled": False}]}]
    }
    caller.user("GET", "/notification_preferences", 200)
    caller.user("PUT", "/notification_preferences", 200, {"notification_preferences": preferences})
    device = {"push_subscription": {"platform": "ios", "device_token": "device-1"}}
    caller.user("POST", "/push_subscriptions", 201, device)
    caller.user("POST", "/push_subscriptions", 200, device)
    caller.user("GET", "/push_subscriptions", 200)
    caller.user("DELETE", "/push_subscriptions/device-1", 204)
    other = {"push_subscription": {"platform": "android", "device_token": "device-2"}}
    registered = caller.user("POST", "/push_subscriptions", 201, other)["push_subscription"]
    user_url = f"/users/external_id:{USER}"
    caller.server("GET", f"{user_url}/push_subscriptions", 200)
    caller.server("DELETE", f"{user_url}/push_subscriptions/{registered['id']}", 204)
    subscription = {"subscription": {"topic": TOPIC, **CATEGORIES}}
    caller.user("POST", "/subscriptions", 201, subscription)
    caller.user("POST", "/subscriptions", 200, subscription)
    caller.user("GET", "/subscriptions", 200)
    caller.user("GET", f"/subscriptions/{TOPIC}", 200)
    caller.user("POST", f"/subscriptions/{TOPIC}/unsubscribe", 200, {"subscription": CATEGORIES})
    caller.user("DELETE", f"/subscriptions/{TOPIC}", 204, {})


def _push_providers(caller: Caller) -> None:
    """Set and remove both providers: the app is left with none, as it began."""
    url, key = "/api/apps/current/push_providers", new_apns_key()
    account = new_service_account("https://oauth2.googleapis.com/token")
    apns = {"keyId": key.key_id, "teamId": key.team_id, "privateKey": key.p8}
    apns |= {"bundleId": "com.example.conformance", "environment": "sandbox"}
    caller.server("PUT", f"{url}/fcm", 200, {"serviceAccount": account})
    caller.server("PUT", f"{url}/apns", 200, apns)
    caller.server("GET", url, 200)
    caller.server("DELETE", f"{url}/fcm", 204)
    caller.server("DELETE", f"{url}/apns", 204)


def _webhooks(caller: Caller) -> None:
    """An endpoint on a loopback port nobody listens on: its test send answers 200, refused."""
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["*"], "description": "Conformance"}
    url = f"/api/webhooks/{caller.server('POST', '/api/webhooks', 201, body)['id']}"
    caller.server("GET", "/api/webhooks", 200)
    caller.server("GET", url, 200)
    caller.server("PATCH", url, 200, {"events": ["delivery.failed"], "enabled": False})
    caller.server("POST", f"{url}/rotate-secret", 200)
    caller.server("POST", f"{url}/test", 200)
    caller.server("GET", f"{url}/attempts", 200)
    caller.server("DELETE", url, 204)
