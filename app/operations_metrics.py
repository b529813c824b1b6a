"""The web process's part in the operations metrics (docs/operations.md, "Metrics and alerts").

Every request is counted by route (the URL rule, never the raw path, so that ids do not make a
series each), method and status, and timed. `GET /internal/metrics` serves every web and worker
process of this host in Prometheus's text format, with the queues and the retry backlog read at
scrape time; only when METRICS_TOKEN is set (the route does not exist otherwise: 404), and only to
`Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). It is not part of the API's document.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, Response, current_app, g, request

from app.composition import Process
from app.extensions import runtime
from app.observability.exposition import host_registry, text_format
from app.observability.metrics import metrics
from app.refusals import HeraldError
from workers.backlog import BacklogCollector

bp = Blueprint("operations_metrics", __name__)

# Requests no route matched (404, 405): one series for all of them.
UNMATCHED_ROUTE = "unmatched"
# A WebSocket's request lasts as long as the socket: not a latency (sockets have their gauge).
_SOCKET_ENDPOINT = "realtime_ws.realtime_socket"
_REGISTRY = "herald_operations_metrics"


def init_app(flask_app: Flask, process: Process) -> None:
    """Count and time every request; serve /internal/metrics when METRICS_TOKEN is set."""
    _count_requests(flask_app)
    if process.runtime.settings.metrics_token:
        backlog = BacklogCollector(process.broker, process.runtime.database)
        flask_app.extensions[_REGISTRY] = host_registry(backlog)
        flask_app.register_blueprint(bp)


def _count_requests(flask_app: Flask) -> None:
    @flask_app.before_request
    def _start_clock() -> None:
        g.metrics_clock = time.perf_counter()

    @flask_app.after_request
    def _count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
        method = request.method
        metrics().http_requests.labels(route, method, str(response.status_code)).inc()
        started = g.get("metrics_clock")
        if started is not None and request.endpoint != _SOCKET_ENDPOINT:
            seconds = time.perf_counter() - started
            metrics().http_request_seconds.labels(route, method).observe(seconds)
        return response


@bp.get("/internal/metrics")
def internal_metrics() -> Response:
    """Every process of this host in Prometheus's text format (bearer METRICS_TOKEN)."""
    _require_bearer(runtime().settings.metrics_token)
    body, content_type = text_format(current_app.extensions[_REGISTRY])
    return Response(body, content_type=content_type)


def _require_bearer(token: str) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time: how long a refusal takes says nothing of the token.
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    if scheme.lower() != "bearer" or not matches:
        raise HeraldError(
            "GET /internal/metrics takes Authorization: Bearer <METRICS_TOKEN>.",
            code="unauthorized",
            status=401,
        )
