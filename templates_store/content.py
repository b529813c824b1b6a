"""The template document: what the API accepts and what template files contain.

`{"key", "name", "description", "tag", "channels": {...}, "variableSchema": {...}}`. Structure is
checked here; Jinja syntax, safety and declared variables are checked by `compiler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from templates_store.errors import InvalidTemplate, marshmallow_details

KEY_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
SHORT = validate.Length(max=1000)
URL = validate.Length(max=2048)
LONG = validate.Length(max=1_000_000)


def empty_variable_schema() -> dict[str, Any]:
    """The schema of a template without variables."""
    return {"type": "object", "properties": {}}


class InAppContentSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    body = fields.String(validate=validate.Length(max=50_000))
    action_url = fields.String(validate=URL)
    # As a notification's category and topic columns (the inbox API limits both to 100).
    category = fields.String(validate=validate.Length(max=100))
    topic = fields.String(validate=validate.Length(max=100))


class EmailContentSchema(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    html = fields.String(validate=LONG)
    text = fields.String(validate=LONG)

    @validates_schema
    def _some_body(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("html") and not data.get("text"):
            raise ValidationError("An email needs html or text.", "html")


class PushContentSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    body = fields.String(validate=validate.Length(max=4000))
    data = fields.Dict(keys=fields.String())
    icon = fields.String(validate=URL)
    url = fields.String(validate=URL)


class ChannelsSchema(Schema):
    in_app = fields.Nested(InAppContentSchema)
    email = fields.Nested(EmailContentSchema)
    push = fields.Nested(PushContentSchema)

    @validates_schema
    def _at_least_one(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give content for at least one of in_app, email, push.")


class TemplateDocumentSchema(Schema):
    """A template's content (no key): the body of `PUT /api/templates/<key>`."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    tag = fields.String(allow_none=True, validate=validate.Length(min=1, max=100))
    channels = fields.Nested(ChannelsSchema, required=True)
    variable_schema = fields.Dict(
        data_key="variableSchema", keys=fields.String(), load_default=empty_variable_schema
    )


class KeyedTemplateDocumentSchema(TemplateDocumentSchema):
    """A template with its key: the body of `POST /api/templates` and a template file."""

    key = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=100),
            validate.Regexp(KEY_PATTERN, error="Use lowercase letters, digits, - and _."),
        ],
    )


@dataclass(frozen=True)
class TemplateContent:
    """Everything one version holds, apart from its number and review state."""

    name: str
    channels: dict[str, dict[str, Any]]
    variable_schema: dict[str, Any] = field(default_factory=empty_variable_schema)
    description: str | None = None
    tag: str | None = None

    @classmethod
    def from_loaded(cls, data: Mapping[str, Any]) -> TemplateContent:
        """Build from a document loaded by `TemplateDocumentSchema` (or its keyed variant)."""
        return cls(
            name=data["name"],
            channels=dict(data["channels"]),
            variable_schema=dict(data.get("variable_schema") or empty_variable_schema()),
            description=data.get("description"),
            tag=data.get("tag"),
        )

    def as_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tag": self.tag,
            "channels": self.channels,
            "variableSchema": self.variable_schema,
        }


def load_document(document: Any, *, keyed: bool = True) -> tuple[str | None, TemplateContent]:
    """Validate a template document; returns its key (None when not keyed) and content."""
    schema = KeyedTemplateDocumentSchema() if keyed else TemplateDocumentSchema()
    if not isinstance(document, Mapping):
        raise InvalidTemplate("A template must be a JSON object.")
    try:
        data = schema.load(document)
    except ValidationError as exc:
        raise InvalidTemplate(details=marshmallow_details(exc.messages)) from exc
    return data.get("key"), TemplateContent.from_loaded(data)
