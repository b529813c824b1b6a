"""Liveness and readiness probes (not rate limited, no credentials)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import fields
from sqlalchemy import text

from app.extensions import runtime
from app.families import INBOX_API, serving
from app.http import doc
from app.wire import View

bp = serving(INBOX_API, Blueprint("health", __name__))


class HealthView(View):
    status = fields.String()


class ReadinessChecksView(View):
    database = fields.Boolean()
    redis = fields.Boolean()


class ReadinessView(HealthView):
    checks = fields.Nested(ReadinessChecksView)


@bp.get("/healthz")
@doc(response=HealthView, tag="Health", auth="none")
def healthz() -> Any:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
@doc(response=ReadinessView, status=(200, 503), tag="Health", auth="none")
def readyz() -> Any:
    """The database and Redis are reachable (503 otherwise)."""
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    ready = all(checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return body, 200 if ready else 503


def _database_ok() -> bool:
    try:
        with runtime().database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def _redis_ok() -> bool:
    try:
        return bool(runtime().redis.ping())
    except Exception:
        return False
