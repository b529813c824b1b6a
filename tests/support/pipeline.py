"""Templated sends through the send API and what became of them: the batch pipeline's tests and
the tests building on it (broadcasts, recipient rules) send and wait with these."""

from __future__ import annotations

from datetime import datetime

from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.engine.models import Delivery, NotificationChunk
from app.push.service import register_subscription
from app.runtime import Runtime
from app.users.service import find_or_create_user
from tests.support.factories import Tenant
from tests.support.sinks import PushService, wait_until
from workers.actors import Actors

SEND = "/api/notifications/send"
VARIABLES = {"customerName": "Jane", "orderId": "ORD-1"}


def send_request(
    targets: list,
    mode: str = "batch",
    *,
    key: str = "order-confirmation",
    variables: dict = VARIABLES,
    **extra,
) -> dict:
    """The body of a send of template `key` to these targets."""
    template = {"key": key, "variables": variables}
    return {"template": template, "targets": targets, "mode": mode, **extra}


def batch(client: FlaskClient, tenant: Tenant, targets: list, **extra) -> dict:
    """A batch send, accepted (202); the answer."""
    response = client.post(SEND, json=send_request(targets, **extra), headers=tenant.headers())
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def realtime(client: FlaskClient, tenant: Tenant, targets: list, **extra) -> dict:
    """A realtime send, answered once its deliveries are made (200); the answer."""
    request = send_request(targets, "realtime", **extra)
    response = client.post(SEND, json=request, headers=tenant.headers())
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def schedule(
    client: FlaskClient, tenant: Tenant, send_at: datetime, targets: list, mode: str = "batch"
) -> str:
    """A send scheduled for `send_at`, accepted (202); its notification id."""
    request = send_request(targets, mode, sendAt=send_at.isoformat())
    response = client.post(SEND, json=request, headers=tenant.headers())
    assert response.status_code == 202, response.get_json()
    return response.get_json()["notificationId"]


def register_device(
    runtime: Runtime, tenant: Tenant, external_id: str, platform: str, device_token: str, **fields
) -> None:
    """A push subscription of the user (created if new), registered through the service (the
    API admits https Web Push endpoints only, and the test session's WEBPUSH_ALLOW_PRIVATE lets
    the service admit the loopback push service)."""
    with runtime.database.transaction() as session:
        user = find_or_create_user(session=session, app_id=tenant.app_id, external_id=external_id)
        register_subscription(
            session=session,
            app_id=tenant.app_id,
            user_id=user.id,
            platform=platform,
            device_token=device_token,
            destinations=runtime.push_http.guard,
            **fields,
        )


def subscribe(runtime: Runtime, tenant: Tenant, push_service: PushService, external_id: str):
    """A browser of the user, subscribed to Web Push at the push service."""
    browser = push_service.new_browser()
    keys = {"p256dh": browser.p256dh, "auth": browser.auth}
    register_device(runtime, tenant, external_id, "web", browser.endpoint, **keys)
    return browser


def status_of(client: FlaskClient, tenant: Tenant, notification_id: str) -> dict:
    return client.get(f"/api/notifications/{notification_id}", headers=tenant.headers()).get_json()


def cancel(client: FlaskClient, tenant: Tenant, notification_id: str) -> TestResponse:
    return client.post(f"/api/notifications/{notification_id}/cancel", headers=tenant.headers())


def finished(client: FlaskClient, tenant: Tenant, notification_id: str) -> dict:
    return wait_until(
        lambda: (
            (body := status_of(client, tenant, notification_id))["status"].startswith("completed")
            and body
        ),
        timeout=60,
    )


def deliveries(
    client: FlaskClient, tenant: Tenant, notification_id: str, query: str = ""
) -> list[dict]:
    url = f"/api/notifications/{notification_id}/deliveries?perPage=100{query}"
    return client.get(url, headers=tenant.headers()).get_json()["deliveries"]


def people(count: int, prefix: str = "u", start: int = 0) -> list[dict]:
    """Target objects `{prefix}{i}` with an email address each."""
    return [
        {"external_id": f"{prefix}{i}", "email": f"{prefix}{i}@example.com"}
        for i in range(start, start + count)
    ]


def fan_out_now(runtime: Runtime, actors: Actors, notification_id: str) -> dict[str, str]:
    """Dispatch and fan out every chunk as a worker would, leaving the sends queued; the email
    delivery id of each target, in the order the deliveries were made."""
    actors.delivery.dispatch_notification(notification_id)
    with runtime.database.transaction() as session:
        chunk_ids = session.scalars(
            select(NotificationChunk.id).where(NotificationChunk.notification_id == notification_id)
        ).all()
    for chunk_id in chunk_ids:
        actors.delivery.process_chunk(chunk_id)
    with runtime.database.transaction() as session:
        rows = session.execute(
            select(Delivery.target, Delivery.id)
            .where(Delivery.notification_id == notification_id, Delivery.channel == "email")
            .order_by(Delivery.created_at, Delivery.id)
        )
        return {target: delivery_id for target, delivery_id in rows}
