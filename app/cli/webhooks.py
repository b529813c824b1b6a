"""`herald webhooks`: an app's webhook endpoints, as `/api/webhooks` shows and changes them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from app.cli.output import emit, transaction
from app.engine.webhook_sending import send_test
from app.http import MAX_PER_PAGE, load_body
from app.runtime import Runtime
from app.tenants import service as tenants
from app.webhooks import service
from app.webhooks.models import WebhookEndpoint
from app.webhooks.schemas import (
    AttemptView,
    CreateWebhookSchema,
    UpdateWebhookSchema,
    WebhookTestView,
    WebhookView,
    WebhookWithSecretView,
)

APP = click.option("--app", "app_id", required=True)
EVENTS = click.option(
    "--event", "events", multiple=True, help="An event type, or * for all (repeatable)."
)


def _one_endpoint(command: Any) -> Any:
    """A command about one endpoint of the app: `--app APP WEBHOOK_ID`."""
    return APP(click.argument("webhook_id")(command))


@contextmanager
def _endpoint(app_id: str, webhook_id: str) -> Iterator[tuple[Runtime, Session, WebhookEndpoint]]:
    """The app's endpoint (refused when it has none of that id), in the command's transaction."""
    with transaction() as (rt, session):
        yield rt, session, service.get_endpoint(session, app_id=app_id, endpoint_id=webhook_id)


@click.group()
def webhooks() -> None:
    """Signed HTTP callbacks telling an app what became of its sends."""


@webhooks.command("list")
@APP
def webhooks_list(app_id: str) -> None:
    """Every endpoint of the app, oldest first."""
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        endpoints, _ = service.list_endpoints(session, app_id=app_id, page=1, per_page=10_000)
        emit([WebhookView().dump(service.endpoint_view(e)) for e in endpoints])


@webhooks.command("create")
@APP
@click.option("--url", required=True)
@EVENTS
@click.option("--description", default="")
def webhooks_create(app_id: str, url: str, events: tuple[str, ...], description: str) -> None:
    """Add an endpoint; prints it with its signing secret, shown this once."""
    document = {"url": url, "events": list(events), "description": description}
    body = load_body(CreateWebhookSchema, document=document)
    with transaction() as (rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        endpoint, secret = service.create_endpoint(
            session=session,
            app_id=app_id,
            url=body["url"],
            events=body["events"],
            description=body["description"],
            encryptor=rt.encryptor,
            destinations=rt.webhook_http.guard,
        )
        emit(WebhookWithSecretView().dump(service.endpoint_view(endpoint, secret=secret)))


@webhooks.command("show")
@_one_endpoint
def webhooks_show(app_id: str, webhook_id: str) -> None:
    """One endpoint (never its secret)."""
    with _endpoint(app_id, webhook_id) as (_rt, _session, endpoint):
        emit(WebhookView().dump(service.endpoint_view(endpoint)))


@webhooks.command("update")
@_one_endpoint
@click.option("--url")
@EVENTS
@click.option("--description")
@click.option("--enable/--disable", "enabled", default=None, help="--enable resumes it.")
def webhooks_update(app_id: str, webhook_id: str, **given: Any) -> None:
    """Change its URL, events, description, or whether it is enabled."""
    document = {name: value for name, value in given.items() if value not in (None, ())}
    if "events" in document:
        document["events"] = list(document["events"])
    changes = load_body(UpdateWebhookSchema, document=document)
    with _endpoint(app_id, webhook_id) as (rt, session, endpoint):
        service.update_endpoint(
            session=session, endpoint=endpoint, changes=changes, destinations=rt.webhook_http.guard
        )
        emit(WebhookView().dump(service.endpoint_view(endpoint)))


@webhooks.command("delete")
@_one_endpoint
def webhooks_delete(app_id: str, webhook_id: str) -> None:
    """Remove the endpoint and whatever was waiting to be sent to it."""
    with _endpoint(app_id, webhook_id) as (_rt, session, endpoint):
        service.delete_endpoint(session, endpoint=endpoint)
        emit({"id": webhook_id, "deleted": True})


@webhooks.command("rotate-secret")
@_one_endpoint
def webhooks_rotate_secret(app_id: str, webhook_id: str) -> None:
    """A new signing secret, shown this once; the replaced one also signs for 24 hours."""
    with _endpoint(app_id, webhook_id) as (rt, session, endpoint):
        secret = service.rotate_secret(session=session, endpoint=endpoint, encryptor=rt.encryptor)
        emit(WebhookWithSecretView().dump(service.endpoint_view(endpoint, secret=secret)))


@webhooks.command("test")
@_one_endpoint
def webhooks_test(app_id: str, webhook_id: str) -> None:
    """Send a `webhook.test` event now; prints the attempt."""
    with _endpoint(app_id, webhook_id) as (rt, session, endpoint):
        attempt = send_test(rt, session, endpoint)
        emit(WebhookTestView().dump(service.sent_test_view(attempt)))


@webhooks.command("attempts")
@_one_endpoint
@click.option(
    "--limit", default=MAX_PER_PAGE, show_default=True, type=click.IntRange(1, MAX_PER_PAGE)
)
def webhooks_attempts(app_id: str, webhook_id: str, limit: int) -> None:
    """The endpoint's most recent attempts, newest first (at most one API page)."""
    with _endpoint(app_id, webhook_id) as (_rt, session, endpoint):
        attempts, _ = service.list_attempts(session, endpoint=endpoint, page=1, per_page=limit)
        emit([AttemptView().dump(service.attempt_view(a)) for a in attempts])
