"""Wire format of imports (the inbox API, wrapped in "import")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.imports.models import ENQUEUED, PROCESSED, PROCESSING, Import, ImportFailure
from app.wire import View, WireList


class ImportFields(Schema):
    """Each record is validated by the worker like POST /users; bad ones become failures."""

    users = fields.List(fields.Raw(allow_none=True), required=True, validate=validate.Length(min=1))


class ImportBody(Schema):
    import_ = fields.Nested(ImportFields, required=True, data_key="import")


class ImportSummaryView(View):
    total = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    failed = fields.Integer()


class ImportErrorView(View):
    code = fields.String()
    message = fields.String()
    field = fields.String(metadata={"optional": True})


class ImportFailureView(View):
    index = fields.Integer()
    record = fields.Raw(metadata={"description": "The record as it was given"})
    errors = WireList(fields.Nested(ImportErrorView))


class ImportView(View):
    id = fields.String()
    status = fields.String(validate=validate.OneOf((ENQUEUED, PROCESSING, PROCESSED)))
    summary = fields.Nested(ImportSummaryView)
    failures = WireList(fields.Nested(ImportFailureView))


class ImportEnvelope(View):
    import_ = fields.Nested(ImportView, attribute="import", data_key="import")


class ImportCreatedView(View):
    id = fields.String()
    status = fields.String(validate=validate.OneOf((ENQUEUED, PROCESSING, PROCESSED)))


class ImportCreatedEnvelope(View):
    import_ = fields.Nested(ImportCreatedView, attribute="import", data_key="import")


def import_body(users_import: Import, failures: list[ImportFailure]) -> dict[str, Any]:
    """`{"import": {"id", "status", "summary", "failures"}}`."""
    view = {
        "id": users_import.id,
        "status": users_import.status,
        "summary": {
            "total": users_import.total,
            "created": users_import.created_count,
            "updated": users_import.updated_count,
            "failed": users_import.failed_count,
        },
        "failures": [
            {"index": f.record_index, "record": f.record, "errors": f.errors} for f in failures
        ],
    }
    return {"import": view}
