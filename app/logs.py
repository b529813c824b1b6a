"""The web process's request logging: a request id per request (`X-Request-ID`) and one access
line each; the formats themselves are `app.logformat`'s."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import inspect as sa_inspect

from app.logformat import access_log, bind_request_id, current_request_id

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        bind_request_id(incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex)
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish_request(response: Response) -> Response:
        response.headers["X-Request-ID"] = current_request_id()
        started = g.get("request_started")
        principal = g.get("principal")
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "app_id": _app_id(principal),
            },
        )
        return response


def _app_id(principal: Any) -> str | None:
    """The caller's app id from its identity, never a load: the request's session may have
    lost its connection (the app's attributes then expired with the rollback)."""
    if principal is None:
        return None
    identity = sa_inspect(principal.app).identity
    return str(identity[0]) if identity else None
