"""`herald apps`: apps (tenants), their settings, primary secret and allow-list."""

from __future__ import annotations

import click

from app.allowlist import service as allow_lists
from app.allowlist.schemas import AllowListSchema, AllowListView
from app.cli.output import emit, fail, parse_assignment, transaction
from app.http import load_body
from app.tenants import service as tenants
from app.tenants.schemas import AppSettingsSchema, AppView
from app.wire import parse_json


@click.group()
def apps() -> None:
    """Apps (tenants) and their settings."""


@apps.command("create")
@click.option("--name", required=True)
def apps_create(name: str) -> None:
    """Create an app; prints its id, public key and primary secret (shown only once)."""
    with transaction() as (rt, session):
        app, issued = tenants.create_tenant(session=session, name=name, encryptor=rt.encryptor)
        emit({"appId": app.id, "apiKey": app.api_key, "apiSecret": issued.secret})


@apps.command("list")
def apps_list() -> None:
    """List every app with its settings."""
    with transaction() as (_rt, session):
        emit(AppView(many=True).dump(tenants.list_tenants(session=session)))


@apps.command("update")
@click.argument("app_id")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", required=True)
def apps_update(app_id: str, assignments: tuple[str, ...]) -> None:
    """Change settings, e.g. --set hmacRequired=false --set senderEmail=ops@example.com."""
    document = dict(parse_assignment(item, "--set") for item in assignments)
    changes = load_body(AppSettingsSchema, document=document)
    with transaction() as (rt, session):
        app = tenants.get_tenant(session=session, app_id=app_id)
        tenants.update_settings(
            session=session,
            app=app,
            changes=changes,
            encryptor=rt.encryptor,
            jwks_dir=rt.settings.jwks_dir,
        )
        emit(AppView().dump(app))


@apps.command("rotate-secret")
@click.argument("app_id")
def apps_rotate_secret(app_id: str) -> None:
    """Replace the primary secret (user HMACs must be recomputed with the new one)."""
    with transaction() as (rt, session):
        issued = tenants.rotate_primary_secret(
            session=session, app_id=app_id, encryptor=rt.encryptor
        )
        emit({"appId": app_id, "apiSecret": issued.secret})


@apps.command("allow-list")
@click.argument("app_id")
@click.option(
    "--set",
    "document",
    default=None,
    metavar="JSON",
    help='Replace it, e.g. \'{"enabled": true, "domains": ["example.com"]}\'.',
)
def apps_allow_list(app_id: str, document: str | None) -> None:
    """Show the app's allow-list, or replace it with --set."""
    settings = None if document is None else load_body(AllowListSchema, document=_json(document))
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        if settings is None:
            emit(AllowListView().dump(allow_lists.get_allow_list(session, app_id=app_id)))
            return
        allow_list = allow_lists.replace_allow_list(session, app_id=app_id, settings=settings)
        emit(AllowListView().dump(allow_list))


def _json(document: str) -> object:
    try:
        return parse_json(document)
    except ValueError as exc:
        fail(f"--set is not valid JSON: {exc}", field="--set")
