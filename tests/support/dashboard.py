"""The operator dashboard through the Flask test client: signing in as a person would (the
form's CSRF token read off the page), and the session keys it leaves in Redis."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.runtime import Runtime

SIGN_IN = "/dashboard/sign-in"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: TestResponse) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)
    return found.group(1)


def sign_in(client: FlaskClient, secret: str, **kwargs: object) -> TestResponse:
    """Post the sign-in form with a secret key; answers the response (not followed)."""
    form = client.get(SIGN_IN, **kwargs)  # type: ignore[arg-type]
    return client.post(
        SIGN_IN,
        data={"secret": secret, "csrf_token": csrf_token(form)},
        **kwargs,  # type: ignore[arg-type]
    )


def session_keys(runtime: Runtime) -> list[str]:
    """The dashboard sessions in Redis under this test session's prefix."""
    pattern = runtime.settings.redis_prefix + "dashboard:session:*"
    return [key.decode() for key in runtime.redis.scan_iter(match=pattern)]
