"""Opt-in pytest plugin: every response any test's client gets is held to the OpenAPI document
(`tests.support.openapi_conformance`), failing the test whose request got a response the
document does not promise:

    .venv/bin/pytest -p tests.openapi_plugin tests/api

It lives outside `tests.support` so that loading it early does not import that package before
the conftest asks for its asserts to be rewritten.
"""

from __future__ import annotations

import pytest
from flask import Flask

_ORIGINAL = Flask.test_client_class


def pytest_configure(config: pytest.Config) -> None:
    from tests.support.openapi_conformance import RecordingClient

    Flask.test_client_class = RecordingClient


def pytest_unconfigure(config: pytest.Config) -> None:
    Flask.test_client_class = _ORIGINAL
