"""Herald's HTTP API. Gunicorn serves `app:create_app()`.

Flask is imported only when the app is built, so that Flask-free code (the template store,
models, workers) can import `app.models` and friends without pulling in the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI app; `test_config` overrides settings fields (tests only)."""
    from app.factory import build_app

    return build_app(test_config)
