"""One access line per request: readable in plain logs (`herald dev`), and in JSON logs the same
message and fields as ever."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask.testing import FlaskClient

from app.logformat import formatter
from tests.support.factories import Tenant


def access_record(
    client: FlaskClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> logging.LogRecord:
    with caplog.at_level(logging.INFO, logger="herald.access"):
        assert client.get("/users", headers=tenant.headers()).status_code == 200
    [record] = [r for r in caplog.records if r.name == "herald.access"]
    return record


def test_a_plain_access_line_reads_method_path_status_duration_and_app(
    client: FlaskClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
):
    line = formatter(json=False).format(access_record(client, tenant, caplog))

    assert re.search(rf"\] herald\.access: GET /users 200 \d+\.\dms app={tenant.app_id}$", line)


def test_a_json_access_line_keeps_its_message_and_carries_each_field(
    client: FlaskClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
):
    logged = json.loads(formatter(json=True).format(access_record(client, tenant, caplog)))

    assert (logged["logger"], logged["message"]) == ("herald.access", "request")
    assert (logged["method"], logged["path"], logged["status"]) == ("GET", "/users", 200)
    assert (logged["app_id"], type(logged["duration_ms"])) == (tenant.app_id, float)


def test_a_plain_line_of_another_logger_is_its_message():
    record = logging.makeLogRecord(
        {"name": "app.engine.ledger", "levelname": "WARNING", "msg": "lost %s", "args": ("it",)}
    )
    record.request_id = "req-1"

    assert (
        formatter(json=False).format(record).endswith(" WARNING [req-1] app.engine.ledger: lost it")
    )
