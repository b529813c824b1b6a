"""`/metrics`: counts of notifications and their recipients' outcomes over a period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, request

from app.auth import current_principal, server_call
from app.extensions import db_session
from app.families import INBOX_API, serving
from app.http import doc
from app.metrics import service
from app.metrics.schemas import MetricsView
from app.orm import utcnow
from app.refusals import ErrorDetail, invalid
from app.wire import parse_timestamp

bp = serving(INBOX_API, Blueprint("metrics", __name__))

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)
QUERY = ["from", "to"]


def _period() -> service.Period:
    """`from` and `to` (RFC 3339 or Unix seconds); by default the last 30 days."""
    end = _timestamp("to") or utcnow()
    start = _timestamp("from") or end - DEFAULT_PERIOD
    if start > end:
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", "from must not be after to.", "from")])
    if end - start > MAX_PERIOD:
        message = f"The period is limited to {MAX_PERIOD.days} days."
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", message, "from")])
    return service.Period(start, end)


def _timestamp(name: str) -> Any:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    parsed = parse_timestamp(raw)
    if parsed is None:
        message = f"{name} must be an RFC 3339 timestamp or Unix seconds (years 1970 to 8999)."
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", message, name)])
    return parsed


def _metrics(grouping: str) -> dict[str, Any]:
    return service.metrics(
        db_session(), app_id=current_principal().app.id, period=_period(), grouping=grouping
    )


@bp.get("/metrics")
@server_call("read")
@doc(response=MetricsView, tag="Metrics", query=QUERY)
def daily_metrics() -> Any:
    """Notifications and their recipients' outcomes per day (UTC)."""
    return _metrics("day")


@bp.get("/metrics/categories")
@server_call("read")
@doc(response=MetricsView, tag="Metrics", query=QUERY)
def metrics_by_category() -> Any:
    """Notifications and their recipients' outcomes per category."""
    return _metrics("category")


@bp.get("/metrics/topics")
@server_call("read")
@doc(response=MetricsView, tag="Metrics", query=QUERY)
def metrics_by_topic() -> Any:
    """Notifications and their recipients' outcomes per topic."""
    return _metrics("topic")
