"""The one retry policy: which provider answers are retried, when, and how often."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.config import Settings
from app.engine.retry import (
    NextAttempt,
    RetryPolicy,
    Verdict,
    http_verdict,
    parse_schedule,
    retry_after_s,
    smtp_verdict,
)
from app.runtime import Runtime

POLICY = RetryPolicy(schedule_ms=(1_000, 2_000, 4_000, 8_000), jitter=0.2)
NOW = datetime(2026, 10, 21, 7, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (421, Verdict.TRANSIENT),
        (451, Verdict.TRANSIENT),
        (452, Verdict.TRANSIENT),
        (550, Verdict.PERMANENT),
        (554, Verdict.PERMANENT),
    ],
)
def test_smtp_deferrals_are_retried_and_refusals_are_not(code: int, verdict: Verdict):
    assert smtp_verdict(code) is verdict


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (404, Verdict.GONE),
        (410, Verdict.GONE),
        (429, Verdict.TRANSIENT),
        (500, Verdict.TRANSIENT),
        (503, Verdict.TRANSIENT),
        (400, Verdict.PERMANENT),
        (403, Verdict.PERMANENT),
        (413, Verdict.PERMANENT),
    ],
)
def test_push_service_answers_are_gone_transient_or_permanent(status: int, verdict: Verdict):
    assert http_verdict(status) is verdict


def planned(policy: RetryPolicy, attempts: int, **options: Any) -> NextAttempt:
    """The next attempt after `attempts`, which must have one."""
    next_attempt = policy.next_attempt(attempts, **options)
    assert next_attempt is not None
    return next_attempt


def test_each_wait_is_its_step_of_the_schedule_within_the_jitter():
    rng = random.Random(7)
    waits = [POLICY.next_attempt(attempts, now=NOW, rng=rng) for attempts in (1, 2, 3, 4)]

    for wait, step in zip(waits, (1_000, 2_000, 4_000, 8_000), strict=True):
        assert wait is not None
        assert 0.8 * step <= wait.wait_ms <= 1.2 * step
        assert wait.at == NOW + timedelta(milliseconds=wait.wait_ms)


def test_the_jitter_spreads_deliveries_that_failed_together():
    rng = random.Random(11)
    waits = {planned(POLICY, 1, rng=rng).wait_ms for _ in range(50)}

    assert len(waits) > 40 and min(waits) < 900 and max(waits) > 1_100


def test_attempts_are_the_schedule_s_waits_plus_one():
    assert POLICY.max_attempts == 5
    assert POLICY.next_attempt(4, rng=random.Random(1)) is not None
    assert POLICY.next_attempt(5, rng=random.Random(1)) is None


def test_retry_after_lengthens_a_wait_up_to_the_longest_step_and_never_shortens_one():
    def wait(attempts: int, retry_after: float) -> int:
        return planned(POLICY, attempts, retry_after=retry_after, rng=random.Random(1)).wait_ms

    assert wait(1, retry_after=5) == 5_000
    assert wait(1, retry_after=3_600) == 8_000
    assert wait(3, retry_after=0.5) >= 0.8 * 4_000


def test_waits_up_to_the_reconciler_s_interval_go_through_the_broker_and_longer_ones_do_not():
    policy = RetryPolicy(schedule_ms=(20, 60_000), broker_wait_limit_ms=30_000, jitter=0)

    assert planned(policy, 1).through_broker
    assert not planned(policy, 2).through_broker
    assert policy.broker_wait_limit == timedelta(seconds=30)


def test_without_a_reconciler_every_wait_goes_through_the_broker():
    settings = Settings(database_url="sqlite://", retry_schedule="4h", reconcile_interval_s=0)
    policy = RetryPolicy.from_settings(settings)

    assert policy.broker_wait_limit is None
    assert planned(policy, 1).through_broker


def test_the_default_schedule_retries_for_over_twelve_hours_in_ten_attempts():
    policy = RetryPolicy.from_settings(Settings(database_url="sqlite://"))

    assert policy.max_attempts == 10
    assert timedelta(milliseconds=sum(policy.schedule_ms)) == timedelta(hours=15, minutes=51)
    assert policy.broker_wait_limit == timedelta(seconds=30)
    assert not any(planned(policy, attempts).through_broker for attempts in range(1, 10))


@pytest.mark.parametrize(
    ("raw", "waits_ms"),
    [
        ("1m,5m,15m,30m,1h,2h,4h,4h", (60_000, 300_000, 900_000, 1_800_000, 3_600_000,
                                       7_200_000, 14_400_000, 14_400_000)),
        ("20ms,20ms", (20, 20)),
        (" 1.5s , 2m ", (1_500, 120_000)),
        ("0.5h", (1_800_000,)),
    ],
)  # fmt: skip
def test_a_schedule_is_comma_separated_durations_in_ms_s_m_or_h(raw: str, waits_ms: tuple):
    assert parse_schedule(raw) == waits_ms


@pytest.mark.parametrize("raw", ["5", "5x", "1m,,2m", "-1m", "0s", "1 m", "one minute", "1d"])
def test_a_malformed_schedule_is_refused_naming_retry_schedule(raw: str):
    with pytest.raises(ValueError, match=r"^RETRY_SCHEDULE: .* is not a wait"):
        parse_schedule(raw)


def test_a_process_with_a_malformed_schedule_stops_as_it_starts(settings: Settings):
    with pytest.raises(ValueError, match="RETRY_SCHEDULE: 'soon' is not a wait"):
        Runtime.from_settings(replace(settings, retry_schedule="1m,soon"))


@pytest.mark.parametrize("name", ["MAX_DELIVERY_ATTEMPTS", "RETRY_BACKOFF_MS"])
def test_the_replaced_retry_settings_stop_a_process_naming_retry_schedule(name: str):
    with pytest.raises(ValueError, match=f"^{name} is no longer read: set RETRY_SCHEDULE"):
        Settings.from_env({"DATABASE_URL": "sqlite://", name: "5"})


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),
        ("soon", None),
        (None, None),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None):
    assert retry_after_s(header, now=NOW) == seconds
