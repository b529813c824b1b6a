"""Structured logging: one JSON object per line, each carrying the current request id; or, for
a person at a terminal (`LOG_JSON=false`, as `herald dev` runs), one readable line."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import inspect as sa_inspect

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

access_log = logging.getLogger("herald.access")
_PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def current_request_id() -> str:
    return _request_id.get()


def bind_request_id(value: str) -> None:
    """Tag log lines of this context (a request, or a worker message) with an id."""
    _request_id.set(value)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Send every log line to stderr, as JSON unless told otherwise. Safe to call repeatedly."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(formatter(json=json))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_herald", False):
            root.removeHandler(existing)
    handler._herald = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def formatter(*, json: bool) -> logging.Formatter:
    """One JSON object per line (every `extra` field a key), or one line for a person."""
    if json:
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
        )
    return PlainFormatter()


class PlainFormatter(logging.Formatter):
    """Time, level, request id, logger and message; an access line shows its request's fields
    (`POST /api/notifications/send 202 12.3ms app=...`), which JSON carries as fields."""

    def __init__(self) -> None:
        super().__init__(_PLAIN_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        if record.name != access_log.name:
            return super().formatMessage(record)
        return _PLAIN_FORMAT % {**vars(record), "message": _access_line(record)}


def _access_line(record: logging.LogRecord) -> str:
    """`METHOD path status duration app=...` from an access record's fields."""
    fields = vars(record)
    line = f"{fields.get('method')} {fields.get('path')} {fields.get('status')}"
    if fields.get("duration_ms") is not None:
        line += f" {fields['duration_ms']:.1f}ms"
    if fields.get("app_id"):
        line += f" app={fields['app_id']}"
    return line


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
