"""A hub counts the WebSockets it holds (a gauge: the sum over the host's live processes) and
the frames it hands to them, for the operations metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.realtime.connection import Connection
from app.realtime.hub import Hub
from app.runtime import Runtime
from tests.support.metrics import counted
from tests.support.realtime import runtime_for


@pytest.fixture
def hub(sqlite_url: str) -> Iterator[Hub]:
    runtime: Runtime = runtime_for(sqlite_url)
    hub = Hub(runtime)
    hub.start()
    yield hub
    hub.close()
    runtime.close()


def test_open_sockets_are_a_gauge_and_the_frames_handed_to_them_a_count(hub: Hub):
    open_before = counted("herald_websocket_connections")
    frames_before = counted("herald_websocket_frames_total")
    tabs = [Connection(app_id="app", user_id="u1") for _ in range(2)]
    for tab in tabs:
        hub.attach(tab)

    reached = hub.deliver("app", ["u1", "u2"], '{"event":"hello","data":{}}')
    opened = counted("herald_websocket_connections") - open_before
    hub.detach(tabs[0])
    hub.detach(tabs[0])  # a socket detached twice counts once

    assert reached == 2
    assert opened == 2
    assert counted("herald_websocket_frames_total") - frames_before == 2
    assert counted("herald_websocket_connections") - open_before == 1
