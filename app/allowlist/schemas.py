"""Wire format of the allow-list (Herald API family: camelCase)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from app.allowlist.addresses import ascii_domain_pattern, parse_address
from app.wire import View


class AllowListSchema(Schema):
    enabled = fields.Boolean(required=True)
    domains = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        load_default=list,
        validate=validate.Length(max=1000),
    )
    emails = fields.List(
        fields.String(validate=validate.Length(min=3, max=254)),
        load_default=list,
        validate=validate.Length(max=10_000),
    )
    allow_registered_users = fields.Boolean(data_key="allowRegisteredUsers", load_default=False)

    @validates("domains")
    def _domains(self, value: list[str], **_: Any) -> None:
        errors = {}
        for index, domain in enumerate(value):
            try:
                ascii_domain_pattern(domain)
            except ValueError as exc:
                errors[index] = [str(exc)]
        if errors:
            raise ValidationError(errors)

    @validates("emails")
    def _emails(self, value: list[str], **_: Any) -> None:
        errors = {
            i: ["Not a valid email address."] for i, e in enumerate(value) if not parse_address(e)
        }
        if errors:
            raise ValidationError(errors)


class AllowListView(View):
    enabled = fields.Boolean()
    domains = fields.List(fields.String())
    emails = fields.List(fields.String())
    allowRegisteredUsers = fields.Boolean(attribute="allow_registered_users")
