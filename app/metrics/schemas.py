"""The metrics API's metric object: `metrics` (2-D array of integers), `labels` and `schema`."""

from __future__ import annotations

from marshmallow import fields

from app.wire import View


class MetricsSchemaView(View):
    rows = fields.String(metadata={"description": "What each label is: day, category or topic"})
    columns = fields.List(fields.String(), metadata={"description": "Each row's measures"})
    from_ = fields.Integer(
        attribute="from", data_key="from", metadata={"description": "Unix seconds"}
    )
    to = fields.Integer(metadata={"description": "Unix seconds"})


class MetricsView(View):
    metrics = fields.List(fields.List(fields.Integer()))
    labels = fields.List(fields.String())
    schema = fields.Nested(MetricsSchemaView)
