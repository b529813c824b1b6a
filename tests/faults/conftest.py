"""Fixtures of the fault-injection suite: one installation per test, faults injected mid-batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, running_cluster
from tests.support.sinks import PushService, SmtpSink

# Each delivery takes this long at the sinks, so that a batch lasts seconds.
SINK_DELAY_S = 0.05


@pytest.fixture
def cluster_settings() -> dict[str, str]:
    """Settings of a test's own over the suite's (tests/support/cluster.py): none, unless the
    test parametrizes this."""
    return {}


@pytest.fixture
def cluster(
    postgresql_url: str, tmp_path: Path, cluster_settings: dict[str, str]
) -> Iterator[Cluster]:
    smtp, push = SmtpSink().start(), PushService().start()
    smtp.delay_s = push.delay_s = SINK_DELAY_S
    try:
        with running_cluster(
            postgresql_url, smtp, push, tmp_path, cluster_settings
        ) as installation:
            yield installation
            installation.print_logs()  # shown when the test failed
    finally:
        smtp.stop()
        push.stop()
