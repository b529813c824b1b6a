"""Wire format of the template API (Herald API family: camelCase, unwrapped)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.wire import HeraldPageView
from templates_store.content import KeyedTemplateDocumentSchema, TemplateDocumentSchema
from templates_store.models import MAX_VERSION, STATUSES


class TemplateCreateBody(KeyedTemplateDocumentSchema):
    """`POST /api/templates`: key, name, description, tag, channels, variableSchema."""


class TemplateUpdateBody(TemplateDocumentSchema):
    """`PUT /api/templates/<key>`: the new version's content; `key`, if given, must not change."""

    key = fields.String(validate=validate.Length(min=1, max=100))


class TransitionBody(Schema):
    """Optional: the version to act on (default: the latest)."""

    version = fields.Integer(validate=validate.Range(min=1, max=MAX_VERSION))


class RejectBody(TransitionBody):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class PreviewBody(Schema):
    variables = fields.Dict(keys=fields.String(), load_default=dict)
    user = fields.Dict(keys=fields.String(), load_default=dict)
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_VERSION))


class TemplateVersionView(Schema):
    """One version of a template, with the template's key, approved version and archive flag."""

    id = fields.String(attribute="template_id")
    key = fields.String(attribute="template.key")
    name = fields.String()
    description = fields.String(allow_none=True)
    tag = fields.String(allow_none=True)
    version = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    channels = fields.Dict()
    variableSchema = fields.Dict(attribute="variable_schema")
    approvedVersion = fields.Integer(attribute="template.approved_version", allow_none=True)
    archived = fields.Boolean(attribute="template.archived")
    createdAt = fields.DateTime(attribute="created_at")
    updatedAt = fields.DateTime(attribute="updated_at")
    createdBy = fields.String(attribute="created_by", allow_none=True)
    submittedBy = fields.String(attribute="submitted_by", allow_none=True)
    submittedAt = fields.DateTime(attribute="submitted_at", allow_none=True)
    reviewedBy = fields.String(attribute="reviewed_by", allow_none=True)
    reviewedAt = fields.DateTime(attribute="reviewed_at", allow_none=True)
    rejectionReason = fields.String(attribute="rejection_reason", allow_none=True)


class TemplateListView(HeraldPageView):
    templates = fields.List(fields.Nested(TemplateVersionView))


class VersionListView(HeraldPageView):
    versions = fields.List(fields.Nested(TemplateVersionView))


class PreviewView(Schema):
    version = fields.Integer()
    channels = fields.Dict(metadata={"description": "Rendered content keyed by channel."})
