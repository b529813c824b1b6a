"""The seed's metric object: `metrics` (2-D array of integers), `labels` and `schema`."""

from __future__ import annotations

from marshmallow import Schema, fields


class MetricsSchemaView(Schema):
    rows = fields.String(metadata={"description": "What each label is: day, category or topic"})
    columns = fields.List(fields.String(), metadata={"description": "Each row's measures"})
    from_ = fields.Integer(data_key="from", metadata={"description": "Unix seconds"})
    to = fields.Integer(metadata={"description": "Unix seconds"})


class MetricsView(Schema):
    metrics = fields.List(fields.List(fields.Integer()))
    labels = fields.List(fields.String())
    schema = fields.Nested(MetricsSchemaView)
