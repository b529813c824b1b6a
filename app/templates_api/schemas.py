"""Wire format of the template API (Herald API family: camelCase, unwrapped)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.wire import View, herald_page_fields
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


class TemplateVersionView(View):
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


class TemplateListView(View):
    templates = fields.List(fields.Nested(TemplateVersionView))
    page, perPage, total = herald_page_fields()


class VersionListView(View):
    versions = fields.List(fields.Nested(TemplateVersionView))
    page, perPage, total = herald_page_fields()


class RenderedInAppView(View):
    title = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    action_url = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    topic = fields.String(allow_none=True)


class RenderedEmailView(View):
    subject = fields.String(allow_none=True)
    html = fields.String(allow_none=True)
    text = fields.String(allow_none=True)


class RenderedPushView(View):
    title = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    data = fields.Raw(metadata={"description": "The push data, its strings rendered"})
    icon = fields.String(allow_none=True)
    url = fields.String(allow_none=True)


class RenderedChannelsView(View):
    """Only the channels the version has content for."""

    in_app = fields.Nested(RenderedInAppView, metadata={"optional": True})
    email = fields.Nested(RenderedEmailView, metadata={"optional": True})
    push = fields.Nested(RenderedPushView, metadata={"optional": True})


class PreviewView(View):
    version = fields.Integer()
    channels = fields.Nested(RenderedChannelsView)
