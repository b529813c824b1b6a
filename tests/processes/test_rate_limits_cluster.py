"""One app's budget is shared by every web process: counters live in Redis."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from app.ratelimit import WINDOW_S
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.inbox import disposable_tenants
from tests.support.processes import RunningProcess, procfile_process
from tests.support.realtime import TIMEOUT, sockets

LIMIT = 4


@pytest.fixture(scope="module")
def two_webs(
    postgresql_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningProcess, ...]]:
    tmp_path: Path = tmp_path_factory.mktemp("webs")
    with ExitStack() as stack:
        yield tuple(
            stack.enter_context(
                procfile_process("web", database_url=postgresql_url, log_dir=tmp_path)
            )
            for _ in range(2)
        )


@pytest.fixture
def make(pg_runtime: Runtime) -> Iterator[Callable[..., Tenant]]:
    with disposable_tenants(pg_runtime) as make_tenant:
        yield make_tenant


def get(base_url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, dict(exc.headers)


def start_of_a_window() -> None:
    """Wait for the next minute when this one is nearly over, so the calls share one window."""
    left = WINDOW_S - time.time() % WINDOW_S
    if left < 10:
        time.sleep(left + 0.1)


def test_two_web_processes_count_against_one_budget(
    two_webs: tuple[RunningProcess, ...], make: Callable[..., Tenant]
):
    tenant = make(rate_limit_read_per_minute=LIMIT)
    web_a, web_b = two_webs
    start_of_a_window()

    answers = [
        get((web_a, web_b)[i % 2].base_url, "/broadcasts", tenant.headers())
        for i in range(LIMIT + 2)
    ]

    assert [status for status, _ in answers] == [200] * LIMIT + [429, 429]
    assert [int(h["X-RateLimit-Remaining"]) for _, h in answers] == [3, 2, 1, 0, 0, 0]
    for _, headers in answers[LIMIT:]:
        assert headers["Retry-After"] == headers["X-RateLimit-Reset"]
        assert headers["X-RateLimit-Limit"] == str(LIMIT)


def test_websocket_handshakes_are_not_counted(
    two_webs: tuple[RunningProcess, ...], make: Callable[..., Tenant]
):
    tenant = make(rate_limit_read_per_minute=1)
    web_a, web_b = two_webs
    start_of_a_window()
    first, _ = get(web_a.base_url, "/notifications", tenant.user_headers("u1"))

    with sockets() as opened:
        for web in (web_a, web_b, web_a):
            opened.connect(web.base_url, tenant, "u1")
        over, headers = get(web_b.base_url, "/notifications", tenant.user_headers("u1"))

    assert (first, over) == (200, 429)
    assert headers["X-RateLimit-Remaining"] == "0"
