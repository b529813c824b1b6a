"""Wire format of imports (seed 002, wrapped in "import")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.imports.models import Import, ImportFailure


class ImportFields(Schema):
    """Each record is validated by the worker like POST /users; bad ones become failures."""

    users = fields.List(fields.Raw(allow_none=True), required=True, validate=validate.Length(min=1))


class ImportBody(Schema):
    import_ = fields.Nested(ImportFields, required=True, data_key="import")


class ImportSummaryView(Schema):
    total = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    failed = fields.Integer()


class ImportFailureView(Schema):
    index = fields.Integer()
    record = fields.Raw()
    errors = fields.List(fields.Dict())


class ImportView(Schema):
    id = fields.String()
    status = fields.String()
    summary = fields.Nested(ImportSummaryView)
    failures = fields.List(fields.Nested(ImportFailureView))


class ImportEnvelope(Schema):
    import_ = fields.Nested(ImportView, data_key="import")


class ImportCreatedView(Schema):
    id = fields.String()
    status = fields.String()


class ImportCreatedEnvelope(Schema):
    import_ = fields.Nested(ImportCreatedView, data_key="import")


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
    return {"import": ImportView().dump(view)}
