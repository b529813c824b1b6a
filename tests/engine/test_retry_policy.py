"""The one retry policy: which provider answers are retried, when, and how often."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from app.engine.retry import RetryPolicy, Verdict, http_verdict, retry_after_s, smtp_verdict

POLICY = RetryPolicy(first_delay_ms=1_000, max_attempts=5, cap_ms=60_000, jitter=0.2)


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


def test_waits_double_per_attempt_within_the_jitter():
    rng = random.Random(7)
    waits = [POLICY.delay_ms(attempts, rng=rng) for attempts in (1, 2, 3, 4)]

    for wait, nominal in zip(waits, (1_000, 2_000, 4_000, 8_000), strict=True):
        assert 0.8 * nominal <= wait <= 1.2 * nominal


def test_waits_are_capped():
    assert POLICY.delay_ms(20, rng=random.Random(1)) <= 60_000 * 1.2


def test_the_last_allowed_attempt_is_the_last():
    assert not POLICY.gives_up_after(4)
    assert POLICY.gives_up_after(5)


def test_retry_after_lengthens_a_wait_up_to_the_longest_wait_of_the_schedule():
    assert POLICY.delay_ms(1, retry_after=5, rng=random.Random(1)) == 5_000
    assert POLICY.delay_ms(1, retry_after=3_600, rng=random.Random(1)) == 8_000
    assert POLICY.delay_ms(3, retry_after=0.5, rng=random.Random(1)) >= 0.8 * 4_000


def test_no_wait_is_longer_than_the_longest_wait_the_reconciler_allows():
    rng = random.Random(3)
    waits = [
        POLICY.delay_ms(attempts, retry_after=retry_after, rng=rng)
        for attempts in range(1, POLICY.max_attempts)
        for retry_after in (None, 1.0, 10_000.0)
        for _ in range(20)
    ]

    assert max(waits) <= POLICY.longest_wait_ms() == int(8_000 * 1.2)


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
    now = datetime(2026, 10, 21, 7, 28, tzinfo=UTC)

    assert retry_after_s(header, now=now) == seconds
