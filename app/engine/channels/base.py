"""How a channel reports a failed send."""

from __future__ import annotations


class DeliveryFailure(Exception):
    """A send did not happen; `reason` is short, stable and safe to show to the app."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientFailure(DeliveryFailure):
    """Might succeed later (connection trouble, SMTP 4xx, push 429/5xx): retry with backoff,
    no sooner than `retry_after` seconds when the provider said so."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(DeliveryFailure):
    """Will not succeed by retrying (SMTP 5xx, push 400/404/410): record and stop."""


class AddressRejected(PermanentFailure):
    """The recipient's address does not exist (an SMTP hard bounce): record, stop, and add the
    address to the app's suppression list."""


class SubscriptionGone(PermanentFailure):
    """The push service no longer knows this subscription or device token (Web Push 404/410,
    FCM UNREGISTERED, APNs Unregistered or BadDeviceToken): discard it, never send to it again."""
