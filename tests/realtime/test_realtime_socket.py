"""`GET /ws` on a real web process: handshake authentication, users, pings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.runtime import Runtime
from app.security import user_hmac
from app.users.models import User
from tests.support.factories import Tenant, make_tenant
from tests.support.processes import RunningProcess
from tests.support.realtime import Sockets, handshake_refusal, next_event, socket_url


def test_query_credentials_open_a_socket_that_answers_pings(
    web: RunningProcess, acme: Tenant, clients: Sockets
):
    ws = clients.connect(web.base_url, acme, "u-1")
    ws.send('{"event": "ping"}')
    assert next_event(ws) == {"event": "pong"}


def test_header_credentials_are_accepted_too(web: RunningProcess, acme: Tenant, clients: Sockets):
    url = web.base_url.replace("http://", "ws://") + "/ws"
    ws = clients.open(url, header=acme.user_headers("u-2"))
    ws.send('{"event": "ping"}')
    assert next_event(ws) == {"event": "pong"}


def test_connecting_creates_a_user_herald_has_not_seen(
    web: RunningProcess, acme: Tenant, clients: Sockets, pg_runtime: Runtime
):
    clients.connect(
        web.base_url,
        acme,
        None,
        user_email="new@example.com",
        user_hmac=user_hmac(acme.secret, "new@example.com"),
    )
    with pg_runtime.database.session() as session:
        emails = session.scalars(select(User.email).where(User.app_id == acme.app_id)).all()
    assert emails == ["new@example.com"]


def test_missing_hmac_is_refused_with_401_before_the_upgrade(web: RunningProcess, acme: Tenant):
    status, body = handshake_refusal(socket_url(web.base_url, acme, "u-1", user_hmac=None))
    assert status == 401
    assert body["errors"][0]["code"] == "neither_user_hmac_nor_api_secret_provided"


def test_wrong_hmac_is_refused_with_401_before_the_upgrade(web: RunningProcess, acme: Tenant):
    wrong = user_hmac(acme.secret, "someone-else")
    status, body = handshake_refusal(socket_url(web.base_url, acme, "u-1", user_hmac=wrong))
    assert (status, body["errors"][0]["code"]) == (401, "user_hmac_is_incorrect")


def test_wrong_hmac_is_refused_with_403_when_the_app_does_not_require_one(
    web: RunningProcess, pg_runtime: Runtime
):
    relaxed = make_tenant(pg_runtime, "relaxed", hmac_required=False)
    wrong = user_hmac(relaxed.secret, "someone-else")
    status, body = handshake_refusal(socket_url(web.base_url, relaxed, "u-1", user_hmac=wrong))
    assert (status, body["errors"][0]["code"]) == (403, "forbidden")


def test_another_apps_key_is_refused(web: RunningProcess, acme: Tenant, pg_runtime: Runtime):
    globex = make_tenant(pg_runtime, "globex")
    url = socket_url(web.base_url, acme, "u-1", api_key=globex.api_key)
    status, body = handshake_refusal(url)
    assert (status, body["errors"][0]["code"]) == (401, "user_hmac_is_incorrect")


def test_unknown_api_key_is_refused_with_401(web: RunningProcess, acme: Tenant):
    status, body = handshake_refusal(socket_url(web.base_url, acme, "u-1", api_key="pk_nope"))
    assert (status, body["errors"][0]["code"]) == (401, "incorrect_api_key")


def test_no_user_identity_is_refused(web: RunningProcess, acme: Tenant):
    status, body = handshake_refusal(socket_url(web.base_url, acme, None))
    assert (status, body["errors"][0]["code"]) == (400, "user_email_not_provided")


def test_hmac_may_be_omitted_when_the_app_does_not_require_it(
    web: RunningProcess, pg_runtime: Runtime, clients: Sockets
):
    relaxed = make_tenant(pg_runtime, "relaxed", hmac_required=False)
    ws = clients.connect(web.base_url, relaxed, "u-1", user_hmac=None)
    ws.send('{"event": "ping"}')
    assert next_event(ws) == {"event": "pong"}


def test_frames_other_than_ping_are_ignored(web: RunningProcess, acme: Tenant, clients: Sockets):
    ws = clients.connect(web.base_url, acme, "u-1")
    ws.send("not json")
    ws.send('{"event": "subscribe"}')
    ws.send('{"event": "ping"}')
    assert next_event(ws) == {"event": "pong"}


def test_a_plain_http_request_to_the_socket_endpoint_is_a_client_error(
    web: RunningProcess, acme: Tenant
):
    import urllib.error
    import urllib.request

    url = socket_url(web.base_url, acme, "u-1").replace("ws://", "http://")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    refused.value.close()
    assert refused.value.code == 400
