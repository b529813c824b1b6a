"""Herald's HTTP API. Gunicorn serves `app:create_app()`.

Flask is imported only when the app is built, so that Flask-free code (the template store,
models, workers) can import `app.models` and friends without pulling in the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web process's dependencies from the environment (`test_config` overrides
    settings fields) and the WSGI app on them."""
    from app.composition import compose
    from app.config import Settings
    from app.factory import build_app
    from app.observability.process_files import prepare_metrics_dir

    settings = Settings.from_env(**(test_config or {}))
    prepare_metrics_dir(settings)  # before this process creates any metric
    return build_app(compose(settings))
