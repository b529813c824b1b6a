"""`/api/webhooks`: the calling app's webhook endpoints, their secrets, test sends and attempts
(scope admin, like the app's other settings)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.engine.webhook_sending import send_test
from app.extensions import db_session, runtime
from app.families import HERALD_API, serving
from app.http import doc, load_body, page_from_query
from app.webhooks import service
from app.webhooks.models import WebhookEndpoint
from app.webhooks.schemas import (
    AttemptListView,
    CreateWebhookSchema,
    UpdateWebhookSchema,
    WebhookListView,
    WebhookTestView,
    WebhookView,
    WebhookWithSecretView,
)
from app.wire import page_body

bp = serving(HERALD_API, Blueprint("webhooks", __name__, url_prefix="/api/webhooks"))
TAG = "Webhooks"


@bp.post("")
@server_call("admin")
@doc(body=CreateWebhookSchema, response=WebhookWithSecretView, status=201, tag=TAG)
def create_webhook() -> Any:
    """Add an endpoint; the answer holds its signing secret, shown this once."""
    body, session = load_body(CreateWebhookSchema), db_session()
    endpoint, secret = service.create_endpoint(
        session=session,
        app_id=current_principal().app.id,
        url=body["url"],
        events=body["events"],
        description=body["description"],
        encryptor=runtime().encryptor,
        destinations=runtime().webhook_http.guard,
    )
    session.commit()
    return service.endpoint_view(endpoint, secret=secret), 201


@bp.get("")
@server_call("admin")
@doc(response=WebhookListView, tag=TAG, query=["page", "perPage"])
def list_webhooks() -> Any:
    """The app's endpoints, oldest first."""
    page = page_from_query()
    endpoints, total = service.list_endpoints(
        db_session(), app_id=current_principal().app.id, page=page.number, per_page=page.per_page
    )
    views = [service.endpoint_view(endpoint) for endpoint in endpoints]
    return page_body("webhooks", views, total=total, page=page.number, per_page=page.per_page)


@bp.get("/<webhook_id>")
@server_call("admin")
@doc(response=WebhookView, tag=TAG)
def show_webhook(webhook_id: str) -> Any:
    """One endpoint (never its secret)."""
    return service.endpoint_view(_endpoint(webhook_id))


@bp.patch("/<webhook_id>")
@server_call("admin")
@doc(body=UpdateWebhookSchema, response=WebhookView, tag=TAG)
def update_webhook(webhook_id: str) -> Any:
    """Change its URL, events, description, or `enabled` (true resumes a disabled endpoint)."""
    changes, session = load_body(UpdateWebhookSchema), db_session()
    endpoint = service.update_endpoint(
        session=session,
        endpoint=_endpoint(webhook_id),
        changes=changes,
        destinations=runtime().webhook_http.guard,
    )
    session.commit()
    return service.endpoint_view(endpoint)


@bp.delete("/<webhook_id>")
@server_call("admin")
@doc(status=204, tag=TAG)
def delete_webhook(webhook_id: str) -> Any:
    """Remove the endpoint and whatever was waiting to be sent to it."""
    session = db_session()
    service.delete_endpoint(session, endpoint=_endpoint(webhook_id))
    session.commit()
    return "", 204


@bp.post("/<webhook_id>/rotate-secret")
@server_call("admin")
@doc(response=WebhookWithSecretView, tag=TAG)
def rotate_webhook_secret(webhook_id: str) -> Any:
    """A new signing secret, shown this once; the replaced one also signs for 24 hours."""
    session, endpoint = db_session(), _endpoint(webhook_id)
    secret = service.rotate_secret(
        session=session, endpoint=endpoint, encryptor=runtime().encryptor
    )
    session.commit()
    return service.endpoint_view(endpoint, secret=secret)


@bp.post("/<webhook_id>/test")
@server_call("admin")
@doc(response=WebhookTestView, tag=TAG)
def test_webhook(webhook_id: str) -> Any:
    """Send a `webhook.test` event now, signed as every message is; answers the attempt."""
    session, endpoint = db_session(), _endpoint(webhook_id)
    # The POST may take WEBHOOK_TIMEOUT_S: no transaction (nor pooled connection) is held
    # meanwhile; the endpoint stays loaded (sessions don't expire on commit).
    session.commit()
    attempt = send_test(runtime(), session, endpoint)
    session.commit()
    return service.sent_test_view(attempt)


@bp.get("/<webhook_id>/attempts")
@server_call("admin")
@doc(response=AttemptListView, tag=TAG, query=["page", "perPage"])
def list_webhook_attempts(webhook_id: str) -> Any:
    """The endpoint's recent attempts, newest first (kept for 7 days)."""
    page = page_from_query()
    attempts, total = service.list_attempts(
        db_session(), endpoint=_endpoint(webhook_id), page=page.number, per_page=page.per_page
    )
    views = [service.attempt_view(attempt) for attempt in attempts]
    return page_body("attempts", views, total=total, page=page.number, per_page=page.per_page)


def _endpoint(webhook_id: str) -> WebhookEndpoint:
    return service.get_endpoint(
        db_session(), app_id=current_principal().app.id, endpoint_id=webhook_id
    )
