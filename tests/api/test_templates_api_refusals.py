"""`/api/templates`: the refusals of a save, each naming the field at fault: a key already
taken, invalid documents, Jinja syntax errors, undeclared variables, variable schemas that are
not JSON Schema or could reach outside themselves, and unsafe template code."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.factories import Tenant
from tests.support.template_api import URL, create, errors, refusal
from tests.support.template_factories import template_document


def test_a_key_already_taken_is_409_template_exists(client: FlaskClient, tenant: Tenant):
    create(client, tenant)

    response = client.post(URL, json=template_document(), headers=tenant.headers())

    assert refusal(response, 409) == [
        ("ERR_TEMPLATE_EXISTS", "key", "A template with key 'order-confirmation' already exists.")
    ]


def test_invalid_documents_report_every_field(client: FlaskClient, tenant: Tenant):
    document = template_document(key="Not A Slug", name="")
    document["channels"] = {"email": {"subject": "Hi"}, "sms": {"body": "x"}}

    response = client.post(URL, json=document, headers=tenant.headers())

    assert response.status_code == 400
    fields = {error["field"] for error in errors(response)}
    assert fields == {"key", "name", "channels.email.html", "channels.sms"}
    assert {error["code"] for error in errors(response)} == {"ERR_BAD_REQUEST"}


def test_an_in_app_category_or_topic_fits_a_notifications_100_characters(
    client: FlaskClient, tenant: Tenant
):
    in_app = {"title": "Hi", "category": "c" * 101, "topic": "t" * 101}
    document = template_document(channels={"in_app": in_app})

    response = client.post(URL, json=document, headers=tenant.headers())

    assert response.status_code == 400
    fields = {error["field"] for error in errors(response)}
    assert fields == {"channels.in_app.category", "channels.in_app.topic"}


def test_channels_need_at_least_one_channel(client: FlaskClient, tenant: Tenant):
    response = client.post(URL, json=template_document(channels={}), headers=tenant.headers())

    assert response.status_code == 400
    assert errors(response)[0]["field"] == "channels"


def test_jinja_syntax_errors_are_refused_with_line_and_part(client: FlaskClient, tenant: Tenant):
    channels = {"email": {"subject": "Hi", "html": "<p>one</p>\n<p>two</p>\n{{ orderId "}}

    response = client.post(URL, json=template_document(channels=channels), headers=tenant.headers())

    assert response.status_code == 400
    [error] = errors(response)
    assert error["field"] == "channels.email.html"
    assert error["message"].startswith("Template syntax error on line 3:")


def test_undeclared_variables_are_refused_at_save_time(client: FlaskClient, tenant: Tenant):
    channels = {"in_app": {"title": "Hi {{ user.first_name }}", "body": "{{ couponCode }}"}}

    response = client.post(URL, json=template_document(channels=channels), headers=tenant.headers())

    message = "Variable 'couponCode' is not declared in variableSchema."
    assert refusal(response, 400) == [("ERR_BAD_REQUEST", "channels.in_app.body", message)]


def test_a_variable_schema_that_is_not_json_schema_is_refused(client: FlaskClient, tenant: Tenant):
    schema = {"type": "object", "properties": {"orderId": {"type": "text"}}}

    response = client.post(
        URL, json=template_document(variableSchema=schema), headers=tenant.headers()
    )

    assert response.status_code == 400
    [error] = errors(response)
    assert error["field"] == "variableSchema.properties.orderId.type"
    assert "Not a valid JSON Schema" in error["message"]


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"$dynamicRef": "http://127.0.0.1:9/ssrf-probe"}, "properties.orderId.$dynamicRef"),
        ({"$id": "http://example.invalid/x.json", "$ref": "#/$defs/s"}, "properties.orderId.$id"),
    ],
)
def test_schema_references_that_could_leave_the_schema_are_refused(
    client: FlaskClient, tenant: Tenant, definition: dict, field: str
):
    schema = {
        "type": "object",
        "$defs": {"s": {"type": "string"}},
        "properties": {"customerName": {"type": "string"}, "orderId": definition},
    }

    response = client.post(
        URL, json=template_document(variableSchema=schema), headers=tenant.headers()
    )

    assert response.status_code == 400
    assert [(e["code"], e["field"]) for e in errors(response)] == [
        ("ERR_BAD_REQUEST", f"variableSchema.{field}")
    ]


@pytest.mark.parametrize(
    ("part", "source"),
    [
        ("html", "{{ ''.__class__.__mro__ }}"),
        ("html", "{{ customerName|attr('__class__') }}"),
        ("subject", "{{ customerName['__class__'] }}"),
        ("subject", "{{ customerName.format(1) }}"),
        ("html", "{% include 'secrets.html' %}"),
        ("html", "{{ orderId|map(attribute=customerName)|list }}"),
    ],
)
def test_unsafe_template_code_is_refused_when_saved(
    client: FlaskClient, tenant: Tenant, part: str, source: str
):
    channels = {"email": {"subject": "Hi", "html": "<p>Hi</p>", part: source}}

    response = client.post(URL, json=template_document(channels=channels), headers=tenant.headers())

    assert response.status_code == 400
    assert {e["field"] for e in errors(response)} == {f"channels.email.{part}"}
    assert {e["code"] for e in errors(response)} == {"ERR_BAD_REQUEST"}
