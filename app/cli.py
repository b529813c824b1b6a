"""The `herald` command line: apps, keys, migrations and the local demo. JSON on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from app.config import Settings
from app.refusals import HeraldError
from app.runtime import Runtime
from app.tenants import service as tenants
from app.tenants.schemas import AppSettingsSchema, AppView
from templates_store.errors import TemplateStoreError


def _emit(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str))


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@contextmanager
def _transaction() -> Iterator[tuple[Runtime, Session]]:
    """A runtime and a transaction for one command; both are closed when it ends."""
    rt = Runtime.from_settings(Settings.from_env())
    try:
        with rt.database.transaction() as session:
            yield rt, session
    finally:
        rt.close()


@click.group()
def main() -> None:
    """Herald: self-hosted notification delivery."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from app.migrate import upgrade

    upgrade(Settings.from_env().database_url, revision)


@main.group()
def apps() -> None:
    """Apps (tenants) and their settings."""


@apps.command("create")
@click.option("--name", required=True)
def apps_create(name: str) -> None:
    """Create an app; prints its id, public key and primary secret (shown only once)."""
    with _transaction() as (rt, session):
        app, issued = tenants.create_tenant(session=session, name=name, encryptor=rt.encryptor)
        _emit({"app_id": app.id, "api_key": app.api_key, "api_secret": issued.secret})


@apps.command("list")
def apps_list() -> None:
    """List every app with its settings."""
    with _transaction() as (_rt, session):
        _emit(AppView(many=True).dump(tenants.list_tenants(session=session)))


@apps.command("update")
@click.argument("app_id")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", required=True)
def apps_update(app_id: str, assignments: tuple[str, ...]) -> None:
    """Change settings, e.g. --set hmacRequired=false --set senderEmail=ops@example.com."""
    document = dict(_parse_assignment(item) for item in assignments)
    try:
        changes = AppSettingsSchema().load(document)
    except ValidationError as exc:
        _fail(json.dumps(exc.messages))
    with _transaction() as (rt, session):
        try:
            app = tenants.get_tenant(session=session, app_id=app_id)
            tenants.update_settings(
                session=session,
                app=app,
                changes=changes,
                encryptor=rt.encryptor,
                jwks_dir=rt.settings.jwks_dir,
            )
        except HeraldError as exc:
            _fail(str(exc))
        _emit(AppView().dump(app))


@apps.command("rotate-secret")
@click.argument("app_id")
def apps_rotate_secret(app_id: str) -> None:
    """Replace the primary secret (user HMACs must be recomputed with the new one)."""
    with _transaction() as (rt, session):
        try:
            issued = tenants.rotate_primary_secret(
                session=session, app_id=app_id, encryptor=rt.encryptor
            )
        except HeraldError as exc:
            _fail(str(exc))
        _emit({"app_id": app_id, "api_secret": issued.secret})


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
    from app.allowlist import service as allow_lists
    from app.allowlist.schemas import AllowListSchema, AllowListView

    with _transaction() as (_rt, session):
        try:
            tenants.get_tenant(session=session, app_id=app_id)
        except HeraldError as exc:
            _fail(str(exc))
        if document is None:
            _emit(AllowListView().dump(allow_lists.get_allow_list(session, app_id=app_id)))
            return
        try:
            settings = AllowListSchema().load(json.loads(document))
        except (ValueError, ValidationError) as exc:
            _fail(str(getattr(exc, "messages", exc)))
        allow_list = allow_lists.replace_allow_list(session, app_id=app_id, settings=settings)
        _emit(AllowListView().dump(allow_list))


@main.group()
def keys() -> None:
    """Extra secret keys with scopes."""


@keys.command("create")
@click.option("--app", "app_id", required=True)
@click.option("--scopes", default=None, help="Comma-separated; default send_notifications,read.")
@click.option("--owner-email", default=None)
def keys_create(app_id: str, scopes: str | None, owner_email: str | None) -> None:
    """Issue a secret key; prints it once."""
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()] if scopes else None
    with _transaction() as (_rt, session):
        try:
            issued = tenants.create_secret_key(
                session=session, app_id=app_id, scopes=scope_list, owner_email=owner_email
            )
        except (HeraldError, tenants.UnknownScope) as exc:
            _fail(str(exc))
        _emit({"key_id": issued.key.id, "api_secret": issued.secret, "scopes": issued.key.scopes})


@keys.command("revoke")
@click.option("--app", "app_id", required=True)
@click.option("--key", "key_id", required=True)
def keys_revoke(app_id: str, key_id: str) -> None:
    """Revoke a secret key at once."""
    with _transaction() as (_rt, session):
        try:
            key = tenants.revoke_secret_key(session=session, app_id=app_id, key_id=key_id)
        except HeraldError as exc:
            _fail(str(exc))
        _emit({"key_id": key.id, "revoked": True})


@main.group()
def templates() -> None:
    """Templates as files (one YAML file per template), for version control."""


@templates.command("export")
@click.option("--app", "app_id", required=True)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def templates_export(app_id: str, directory: Path) -> None:
    """Write every live template's latest version into DIRECTORY."""
    from templates_store.files import export_directory

    with _transaction() as (_rt, session):
        _require_app(session, app_id)
        results = export_directory(session, app_id=app_id, directory=directory)
        _emit({"app_id": app_id, "templates": [r.as_dict() for r in results]})


@templates.command("import")
@click.option("--app", "app_id", required=True)
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def templates_import(app_id: str, directory: Path) -> None:
    """Create or update templates from DIRECTORY; a new draft version only where content changed."""
    from templates_store.files import import_directory

    with _transaction() as (_rt, session):
        _require_app(session, app_id)
        try:
            results = import_directory(session, app_id=app_id, directory=directory, actor="cli")
        except TemplateStoreError as exc:
            _fail("; ".join(_problem_text(p) for p in exc.details))
        _emit({"app_id": app_id, "templates": [r.as_dict() for r in results]})


def _require_app(session: Session, app_id: str) -> None:
    try:
        tenants.get_tenant(session=session, app_id=app_id)
    except HeraldError as exc:
        _fail(str(exc))


def _problem_text(problem: Any) -> str:
    return f"{problem.message} (field {problem.field})" if problem.field else problem.message


@main.command("dev")
@click.option("--port", default=5000, show_default=True)
def dev(port: int) -> None:
    """Run Herald locally: Redis if needed, migrations, a demo app, then web + worker."""
    from app.devserver import run_dev

    run_dev(port=port)


def _parse_assignment(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep or not name:
        _fail(f"--set expects NAME=VALUE, got {item!r}")
    try:
        return name.strip(), json.loads(raw)
    except ValueError:
        return name.strip(), raw
