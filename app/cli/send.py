"""`herald send`: a templated send through the send API's own service and checks.

The body is the one `POST /api/notifications/send` takes; it is checked by the same schema and
`SEND_CHECKS`, stored and handed to the workers by the same functions, and answered with the
same JSON (a refusal with the same error envelope). An idempotency key is one of the app's keys,
shared with the HTTP API.
"""

from __future__ import annotations

import json
from typing import Any

import click

from app.cli.output import command_process, emit, print_refusal, refusal_answer
from app.cli.send_input import read_targets, read_variables
from app.http import load_body
from app.idempotency import records
from app.notifications import service
from app.notifications.dispatch import send_answer, start_delivery
from app.notifications.schemas import SendRequestSchema
from app.refusals import ErrorDetail, Refusal, invalid
from app.runtime import Runtime
from app.tenants import service as tenants
from app.wire import has_nul
from workers.actors import Actors

SEND_PATH = "/api/notifications/send"
# Who sent, in the notification's createdBy (the API records the secret key's id).
SENDER = "cli"


@click.command("send")
@click.option("--app", "app_id", required=True, help="The app sending.")
@click.option("--template", "template_key", required=True, help="The template's key.")
@click.option(
    "--targets",
    required=True,
    metavar="FILE|IDS",
    help="A .json file (a list of user ids or target objects), a .csv file (a header row "
    "naming external_id, email, first_name, ...), or comma-separated user ids.",
)
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="A template variable, as text; NAME:=JSON for a number, true, a list... Repeatable.",
)
@click.option("--mode", default="batch", show_default=True, help="batch or realtime.")
@click.option("--title", default=None)
@click.option("--tag", default=None)
@click.option(
    "--send-at",
    default=None,
    metavar="ISO8601",
    help="Send at this time (with its UTC offset, up to 30 days ahead) instead of now.",
)
@click.option("--idempotency-key", default=None, help="Send at most once for this key.")
def send(
    app_id: str,
    template_key: str,
    targets: str,
    variables: tuple[str, ...],
    mode: str,
    title: str | None,
    tag: str | None,
    send_at: str | None,
    idempotency_key: str | None,
) -> None:
    """Send a templated notification as POST /api/notifications/send does; prints its answer."""
    document: dict[str, Any] = {
        "template": {"key": template_key, "variables": read_variables(variables)},
        "targets": read_targets(targets),
        "mode": mode,
    }
    given = (("title", title), ("tag", tag), ("sendAt", send_at))
    document.update({k: v for k, v in given if v is not None})
    with command_process() as process:
        rt = process.runtime
        # An unknown app is refused before the key is looked at, as bad credentials are.
        with rt.database.transaction() as session:
            tenants.get_tenant(session=session, app_id=app_id)
        status, body = send_once(
            rt, process.actors, app_id=app_id, document=document, key=idempotency_key
        )
    if status >= 400:
        print_refusal(body)
    emit(body)


def send_once(
    rt: Runtime, actors: Actors, *, app_id: str, document: dict[str, Any], key: str | None
) -> tuple[int, Any]:
    """The send's status and body; with a key, the first answer for it (a refusal too)."""
    key = (key or "").strip()
    if not key:
        return _send(rt, actors, app_id=app_id, document=document)
    records.check_key(key)
    body = json.dumps(document, separators=(",", ":")).encode()
    fingerprint = records.fingerprint("POST", f"{SEND_PATH}?", body)
    with rt.database.sessionmaker() as session:
        stored = records.claim(session, scope=app_id, key=key, fingerprint=fingerprint)
        if stored is not None:
            return stored.status, json.loads(stored.body)
        try:
            status, answer = _send(rt, actors, app_id=app_id, document=document)
        except Refusal as error:
            status, answer = refusal_answer(error)
        except BaseException:
            records.forget(session, scope=app_id, key=key)
            raise
        stored = records.StoredAnswer(status, json.dumps(answer), "application/json")
        records.store(session, scope=app_id, key=key, answer=stored)
    return status, answer


def _send(
    rt: Runtime, actors: Actors, *, app_id: str, document: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Check and store the send in one transaction, then hand it to the workers."""
    if has_nul(document):
        message = "Strings must not contain NUL (\\u0000) characters."
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", message)])
    request = load_body(SendRequestSchema, document=document)
    with rt.database.transaction() as session:
        app = tenants.get_tenant(session=session, app_id=app_id)
        accepted = service.accept_templated_send(
            session,
            app=app,
            created_by=SENDER,
            caller_email=None,
            request=request,
            links=rt.unsubscribe_links,
        )
        [view] = service.describe(session, [accepted.notification])
    start_delivery(actors, app_id, accepted)
    body, status = send_answer(accepted, view)
    return status, body
