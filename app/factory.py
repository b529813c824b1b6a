"""The Flask application factory: settings, runtime, error handling, blueprints."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from app import errors, extensions, logs
from app.config import Settings
from app.runtime import Runtime


def build_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI app from the environment plus `test_config` overrides."""
    settings = Settings.from_env(**(test_config or {}))
    logs.configure_logging(settings.log_level, json=settings.log_json)
    flask_app = Flask(__name__, instance_relative_config=False)
    flask_app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    flask_app.json.sort_keys = False  # type: ignore[attr-defined]
    flask_app.json.compact = True  # type: ignore[attr-defined]
    extensions.init_app(flask_app, Runtime.from_settings(settings))
    logs.init_app(flask_app)
    errors.init_app(flask_app)
    _refuse_oversized_bodies(flask_app, settings.max_body_bytes)
    _register_blueprints(flask_app)
    return flask_app


def _refuse_oversized_bodies(flask_app: Flask, limit: int) -> None:
    @flask_app.before_request
    def _check_length() -> Response | None:
        if request.content_length is not None and request.content_length > limit:
            from werkzeug.exceptions import RequestEntityTooLarge

            raise RequestEntityTooLarge(f"Request bodies are limited to {limit} bytes.")
        return None


def _register_blueprints(flask_app: Flask) -> None:
    from app import health, openapi
    from app.groups import routes as group_routes
    from app.realtime import routes as realtime_routes
    from app.realtime import ws as realtime_ws
    from app.tenants import routes as tenant_routes

    for blueprint in (
        health.bp,
        openapi.bp,
        tenant_routes.bp,
        group_routes.bp,
        realtime_routes.bp,
        realtime_ws.bp,
    ):
        flask_app.register_blueprint(blueprint)
