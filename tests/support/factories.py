"""Test data: apps with credentials, and the header sets each seed's clients send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.runtime import Runtime
from app.security import user_hmac
from app.tenants import service as tenants


@dataclass(frozen=True)
class Tenant:
    app_id: str
    api_key: str
    secret: str

    def headers(self) -> dict[str, str]:
        """Server-call headers in the X-API-Key / X-API-Secret form."""
        return {"X-API-Key": self.api_key, "X-API-Secret": self.secret}

    def user_headers(
        self, external_id: str | None = None, *, email: str | None = None
    ) -> dict[str, str]:
        """User-call headers with a correct HMAC of the external id (or email)."""
        identity = external_id or email or ""
        headers = {"X-API-Key": self.api_key, "X-User-HMAC": user_hmac(self.secret, identity)}
        if external_id:
            headers["X-User-External-ID"] = external_id
        if email:
            headers["X-User-Email"] = email
        return headers


def make_tenant(runtime: Runtime, name: str = "acme", **settings: object) -> Tenant:
    with runtime.database.transaction() as session:
        app, issued = tenants.create_tenant(session=session, name=name, encryptor=runtime.encryptor)
        for attribute, value in settings.items():
            setattr(app, attribute, value)
        return Tenant(app.id, app.api_key, issued.secret)


def make_key(
    runtime: Runtime, tenant: Tenant, scopes: list[str], owner_email: str | None = None
) -> str:
    with runtime.database.transaction() as session:
        issued = tenants.create_secret_key(
            session=session, app_id=tenant.app_id, scopes=scopes, owner_email=owner_email
        )
        return issued.secret


ORDER_CHANNELS = {
    "in_app": {
        "title": "Order {{ orderId }} confirmed",
        "body": "Thanks {{ customerName }}!",
        "category": "orders",
    },
    "email": {
        "subject": "Order {{ orderId }} confirmed",
        "html": "<p>Hi {{ customerName }}, order <b>{{ orderId }}</b> is confirmed.</p>",
        "text": "Hi {{ customerName }}, order {{ orderId }} is confirmed.",
    },
    "push": {"title": "Order {{ orderId }}", "body": "Confirmed for {{ customerName }}"},
}
ORDER_SCHEMA = {
    "type": "object",
    "properties": {"customerName": {"type": "string"}, "orderId": {"type": "string"}},
}


def approved_template(
    client: Any,
    tenant: Tenant,
    key: str = "order-confirmation",
    channels: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create, submit and approve a template through the API; returns the approved version."""
    body = {
        "key": key,
        "name": key.replace("-", " ").title(),
        "channels": channels or ORDER_CHANNELS,
        "variableSchema": schema or ORDER_SCHEMA,
    }
    created = client.post("/api/templates", json=body, headers=tenant.headers())
    assert created.status_code == 201, created.get_json()
    for action in ("submit", "approve"):
        response = client.post(f"/api/templates/{key}/{action}", json={}, headers=tenant.headers())
        assert response.status_code == 200, response.get_json()
    return response.get_json()
