"""`herald keys`: extra secret keys with scopes. Secrets are shown once, when issued."""

from __future__ import annotations

import click
from marshmallow import Schema, fields

from app.cli.output import emit, fail, transaction
from app.tenants import service as tenants


class KeyView(Schema):
    """A secret key without its secret (only its hash is stored)."""

    keyId = fields.String(attribute="id")
    scopes = fields.List(fields.String())
    ownerEmail = fields.String(attribute="owner_email", allow_none=True)
    primary = fields.Boolean(attribute="is_primary")
    createdAt = fields.DateTime(attribute="created_at")
    revokedAt = fields.DateTime(attribute="revoked_at", allow_none=True)


@click.group()
def keys() -> None:
    """Extra secret keys with scopes."""


@keys.command("create")
@click.option("--app", "app_id", required=True)
@click.option("--scopes", default=None, help="Comma-separated; default send_notifications,read.")
@click.option("--owner-email", default=None)
def keys_create(app_id: str, scopes: str | None, owner_email: str | None) -> None:
    """Issue a secret key; prints it once."""
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()] if scopes else None
    with transaction() as (_rt, session):
        try:
            issued = tenants.create_secret_key(
                session=session, app_id=app_id, scopes=scope_list, owner_email=owner_email
            )
        except tenants.UnknownScope as exc:
            fail(str(exc), field="scopes")
        emit({**KeyView().dump(issued.key), "apiSecret": issued.secret})


@keys.command("list")
@click.option("--app", "app_id", required=True)
def keys_list(app_id: str) -> None:
    """List the app's secret keys, revoked ones included; never their secrets."""
    with transaction() as (_rt, session):
        emit(KeyView(many=True).dump(tenants.list_secret_keys(session=session, app_id=app_id)))


@keys.command("revoke")
@click.option("--app", "app_id", required=True)
@click.option("--key", "key_id", required=True)
def keys_revoke(app_id: str, key_id: str) -> None:
    """Revoke a secret key at once."""
    with transaction() as (_rt, session):
        key = tenants.revoke_secret_key(session=session, app_id=app_id, key_id=key_id)
        emit({"keyId": key.id, "revoked": True})
