"""The Flask application factory: a composed process's runtime and actors, error handling,
blueprints."""

from __future__ import annotations

from flask import Flask, Response, request

from app import errors, extensions, logformat, logs, operations_metrics, ratelimit
from app.composition import Process
from app.config import Settings
from app.refusals import HeraldError
from app.wire import has_nul


def build_app(process: Process) -> Flask:
    """Build the WSGI app on a process's dependencies (`app.composition.compose`)."""
    settings = process.runtime.settings
    logformat.configure_logging(settings.log_level, json=settings.log_json)
    flask_app = Flask(__name__, instance_relative_config=False)
    flask_app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    flask_app.json.sort_keys = False  # type: ignore[attr-defined]
    flask_app.json.compact = True  # type: ignore[attr-defined]
    extensions.init_app(flask_app, process)
    logs.init_app(flask_app)
    operations_metrics.init_app(flask_app, process)
    errors.init_app(flask_app)
    ratelimit.init_app(flask_app)
    _refuse_oversized_bodies(flask_app, settings)
    _refuse_nul_in_urls(flask_app)
    _register_blueprints(flask_app)
    _retry_reads(flask_app)
    return flask_app


# The socket's view runs for the socket's whole life: a retry there would restart it.
_NOT_RETRIED = frozenset({"realtime_ws"})


def _retry_reads(flask_app: Flask) -> None:
    for endpoint, view in list(flask_app.view_functions.items()):
        if endpoint.split(".", 1)[0] not in _NOT_RETRIED:
            flask_app.view_functions[endpoint] = extensions.retry_reads_once(view)


def _refuse_nul_in_urls(flask_app: Flask) -> None:
    """A `%00` in a path or query reaches queries as a NUL character, which PostgreSQL refuses
    (a 500); bodies are checked where they are read (`app.http.read_json`)."""

    @flask_app.before_request
    def _check_url() -> None:
        if has_nul([request.path, *(list(pair) for pair in request.args.items(multi=True))]):
            raise HeraldError(
                "URLs must not contain NUL (%00).", code="ERR_BAD_REQUEST", status=400
            )


def _refuse_oversized_bodies(flask_app: Flask, settings: Settings) -> None:
    @flask_app.before_request
    def _check_length() -> Response | None:
        limit = _body_limit(settings)
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            from werkzeug.exceptions import RequestEntityTooLarge

            raise RequestEntityTooLarge(f"Request bodies are limited to {limit} bytes.")
        return None


def _body_limit(settings: Settings) -> int:
    """MAX_BODY_BYTES, except for bulk user imports (100,000 users do not fit in 10 MiB)."""
    if request.endpoint == "imports.create_import":
        return settings.max_import_body_bytes
    return settings.max_body_bytes


def _register_blueprints(flask_app: Flask) -> None:
    from app import apidocs, client_config, health, openapi
    from app.allowlist import routes as allowlist_routes
    from app.broadcasts import routes as broadcast_routes
    from app.dashboard import routes as dashboard_routes
    from app.direct import routes as direct_routes
    from app.groups import routes as group_routes
    from app.imports import routes as import_routes
    from app.inbox import routes as inbox_routes
    from app.metrics import routes as metrics_routes
    from app.notifications import routes as notification_routes
    from app.preferences import routes as preference_routes
    from app.push import provider_routes as push_provider_routes
    from app.push import routes as push_routes
    from app.realtime import routes as realtime_routes
    from app.realtime import ws as realtime_ws
    from app.suppressions import routes as suppression_routes
    from app.suppressions import unsubscribe_routes
    from app.templates_api import routes as template_routes
    from app.tenants import routes as tenant_routes
    from app.topics import routes as topic_routes
    from app.users import routes as user_routes
    from app.webhooks import routes as webhook_routes

    for blueprint in (
        health.bp,
        openapi.bp,
        apidocs.bp,
        tenant_routes.bp,
        template_routes.bp,
        user_routes.bp,
        push_routes.bp,
        preference_routes.bp,
        topic_routes.bp,
        import_routes.bp,
        client_config.bp,
        allowlist_routes.bp,
        push_provider_routes.bp,
        notification_routes.bp,
        direct_routes.bp,
        group_routes.bp,
        realtime_routes.bp,
        realtime_ws.bp,
        inbox_routes.bp,
        broadcast_routes.bp,
        metrics_routes.bp,
        suppression_routes.bp,
        unsubscribe_routes.bp,
        webhook_routes.bp,
        dashboard_routes.bp,
    ):
        flask_app.register_blueprint(blueprint)
