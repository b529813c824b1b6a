"""The template API (`/api/templates`) through the Flask test client: creating a template from a
template document (tests/support/template_factories.py), and reading a refusal's errors."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.factories import Tenant
from tests.support.template_factories import template_document

URL = "/api/templates"


def errors(response) -> list[dict]:
    return response.get_json()["errors"]


def refusal(response, status: int) -> list[tuple[str, str, str]]:
    """A refusal's errors as (code, field, message), once its status is checked."""
    assert response.status_code == status, response.get_json()
    return [(e["code"], e["field"], e["message"]) for e in errors(response)]


def create(client: FlaskClient, tenant: Tenant, **changes) -> dict:
    """A template created from template_document(**changes): its draft version 1."""
    response = client.post(URL, json=template_document(**changes), headers=tenant.headers())
    assert response.status_code == 201, response.get_json()
    return response.get_json()
