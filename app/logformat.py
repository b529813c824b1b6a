"""Structured logging for every process: one JSON object per line, each carrying the current
request id; or, for a person at a terminal (`LOG_JSON=false`, as `herald dev` runs), one
readable line. Flask-free: the web process adds its request hooks in `app.logs`."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

# What log lines outside any request or worker message carry.
NO_REQUEST_ID = "-"
_request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST_ID)

access_log = logging.getLogger("herald.access")
# HTTP client libraries that log each request at INFO, URL included: an APNs URL holds the
# device token. Herald logs each delivery's outcome itself (herald.delivery).
_CHATTY_CLIENTS = ("httpx", "httpcore", "hpack", "h2")
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
    _set_levels(level)


def format_existing_handlers(level: str = "INFO", *, json: bool = True) -> None:
    """Herald's format on the handlers a host already installed: a Dramatiq worker process
    logs through a pipe to its parent, which must stay its only destination."""
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(_RequestIdFilter())
        handler.setFormatter(formatter(json=json))
    _set_levels(level)


def _set_levels(level: str) -> None:
    logging.getLogger().setLevel(level.upper())
    for name in _CHATTY_CLIENTS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


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
