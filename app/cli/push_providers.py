"""`herald push-providers`: an app's FCM and APNs credentials, as
`/api/apps/current/push_providers` shows and changes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from app.cli.output import emit, fail, transaction
from app.http import load_body
from app.push import providers
from app.push.provider_schemas import ApnsProviderSchema, FcmProviderSchema, PushProvidersView
from app.tenants import service as tenants
from app.tenants.models import App
from app.wire import parse_json

# Far above a service account file (about 2.5 KB) or a .p8 key (about 250 bytes).
MAX_FILE_BYTES = 64 * 1024
FILE = click.Path(dir_okay=False, path_type=Path)


@click.group("push-providers")
def push_providers() -> None:
    """An app's mobile push credentials: FCM for Android, APNs for iOS."""


@push_providers.group("set")
def push_providers_set() -> None:
    """Set (or replace) an app's credentials for one provider."""


@push_providers_set.command("fcm")
@click.option("--app", "app_id", required=True)
@click.option("--service-account", "path", required=True, type=FILE, help="Its JSON key file.")
def set_fcm(app_id: str, path: Path) -> None:
    """Use this service account's key file to send to Android devices through FCM."""
    document = _json(_read(path, "--service-account"), "--service-account")
    body = load_body(FcmProviderSchema, document={"serviceAccount": document})
    with transaction() as (rt, session):
        app = tenants.get_tenant(session=session, app_id=app_id)
        providers.configure_fcm(
            session=session,
            app=app,
            service_account=body["serviceAccount"],
            encryptor=rt.encryptor,
            destinations=rt.push_http.guard,
        )
        _show(app)


@push_providers_set.command("apns")
@click.option("--app", "app_id", required=True)
@click.option("--key-id", required=True, help="The key's 10-character id.")
@click.option("--team-id", required=True, help="The Apple developer team's id.")
@click.option("--private-key", "path", required=True, type=FILE, help="The key's .p8 file.")
@click.option("--bundle-id", required=True, help="The iOS app's bundle id.")
@click.option("--environment", required=True, type=click.Choice(providers.ENVIRONMENTS))
def set_apns(
    app_id: str, key_id: str, team_id: str, path: Path, bundle_id: str, environment: str
) -> None:
    """Use this APNs token key to send to iOS devices."""
    document = {
        "keyId": key_id,
        "teamId": team_id,
        "privateKey": _read(path, "--private-key"),
        "bundleId": bundle_id,
        "environment": environment,
    }
    credentials = load_body(ApnsProviderSchema, document=document)
    with transaction() as (rt, session):
        app = tenants.get_tenant(session=session, app_id=app_id)
        providers.configure_apns(
            session=session, app=app, credentials=credentials, encryptor=rt.encryptor
        )
        _show(app)


@push_providers.command("show")
@click.option("--app", "app_id", required=True)
def push_providers_show(app_id: str) -> None:
    """Which providers the app has and what identifies them (never their keys)."""
    with transaction() as (_rt, session):
        _show(tenants.get_tenant(session=session, app_id=app_id))


@push_providers.command("remove")
@click.argument("provider", type=click.Choice(providers.PROVIDERS))
@click.option("--app", "app_id", required=True)
def push_providers_remove(provider: str, app_id: str) -> None:
    """Forget the app's credentials for one provider: its pushes there stop."""
    with transaction() as (_rt, session):
        app = tenants.get_tenant(session=session, app_id=app_id)
        providers.remove_provider(session=session, app=app, provider=provider)
        _show(app)


def _show(app: App) -> None:
    emit(PushProvidersView().dump(providers.provider_settings(app)))


def _read(path: Path, option: str) -> str:
    """A credentials file's text; refused (naming the option) when unreadable or too large."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"{option}: cannot read {path}: {exc.strerror}.", field=option)
    if len(raw) > MAX_FILE_BYTES:
        fail(f"{option}: {path} is over {MAX_FILE_BYTES} bytes.", field=option)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        fail(f"{option}: {path} is not UTF-8 text.", field=option)


def _json(text: str, option: str) -> Any:
    try:
        return parse_json(text)
    except ValueError as exc:
        fail(f"{option}: not valid JSON: {exc}", field=option)
