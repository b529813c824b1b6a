"""Every failure reason a channel gives falls in one of a few classes, which dashboards group by
and alerts name; a reason listing several devices' refusals is classed by the first."""

from __future__ import annotations

import pytest

from app.engine.reason_classes import REASON_CLASSES, reason_class


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("smtp 421: 4.7.0 Try again later", "smtp_4xx"),
        ("smtp 451: greylisted", "smtp_4xx"),
        ("smtp 550: 5.1.1 No such user", "smtp_5xx"),
        ("smtp 554: 5.7.1 Message refused", "smtp_5xx"),
        ("push subscription gone (410)", "push_gone"),
        ("push subscription gone (404)", "push_gone"),
        ("fcm 404: UNREGISTERED", "push_gone"),
        ("fcm 400: INVALID_ARGUMENT", "push_gone"),
        ("apns 410: Unregistered", "push_gone"),
        ("apns 400: BadDeviceToken", "push_gone"),
        ("provider_auth_failed", "provider_auth"),
        ("push service answered 403", "provider_auth"),
        ("push service answered 401", "provider_auth"),
        ("fcm 403: PERMISSION_DENIED SenderId mismatch", "provider_auth"),
        ("apns 403: InvalidProviderToken", "provider_auth"),
        ("smtp connection failed: TimeoutError", "timeout"),
        ("push service unreachable: ReadTimeoutError", "timeout"),
        ("apns unreachable: ConnectTimeout", "timeout"),
        ("fcm unreachable: ReadTimeout", "timeout"),
        ("blocked_destination", "blocked_destination"),
        ("render failed: 'orderId' is undefined", "render"),
        ("in_app.title renders to more than 255 characters", "render"),
        ("push service answered 503", "other"),
        ("fcm 400: INVALID_ARGUMENT Message payload too big", "other"),
        ("provider_not_configured", "other"),
        ("error before sending: OperationalError", "other"),
        ("smtp connection failed: ConnectionRefusedError", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_a_reason_is_classed_by_what_it_says(reason: str | None, expected: str):
    assert reason_class(reason) == expected


def test_a_reason_listing_several_refusals_is_classed_by_the_first():
    assert reason_class("push subscription gone (410); apns 403: InvalidProviderToken") == (
        "push_gone"
    )
    assert reason_class("provider_auth_failed; push subscription gone (410)") == "provider_auth"


def test_the_classes_are_the_ones_dashboards_and_alerts_name():
    assert set(REASON_CLASSES) == {
        "smtp_4xx",
        "smtp_5xx",
        "push_gone",
        "provider_auth",
        "timeout",
        "blocked_destination",
        "render",
        "other",
    }
