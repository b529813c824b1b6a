"""One push delivery's round: each of the user's subscriptions not yet reached is its own
attempt, through its platform's provider (Web Push, FCM, APNs), and the round keeps each one's
outcome for the delivery to record."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.engine.channels.apns import ApnsClient, ProviderTokens
from app.engine.channels.base import PermanentFailure, SubscriptionGone, TransientFailure
from app.engine.channels.destinations import BlockedDestination
from app.engine.channels.fcm import AccessTokens, FcmClient, GuardedTokenTransport
from app.engine.channels.guarded_http import GuardedHttp
from app.engine.channels.mobile import MobileMessage
from app.engine.channels.webpush import send_web_push

if TYPE_CHECKING:
    from app.config import Settings
    from app.engine.ledger import ClaimedDelivery
    from app.engine.senders import SendingIdentity
    from app.push.service import PushTarget

log = logging.getLogger(__name__)

PROVIDER_NOT_CONFIGURED = "provider_not_configured"
# What a push delivery made before mobile push was sent to: web subscriptions only.
WEB_ONLY = ("web",)


@dataclass
class MobilePush:
    """The process's FCM and APNs clients: access tokens, provider tokens and connections are
    shared by all its threads."""

    fcm: FcmClient
    apns: ApnsClient
    ttl_s: int

    @classmethod
    def from_settings(cls, settings: Settings, token_http: GuardedHttp) -> MobilePush:
        """`token_http` reaches the token endpoints service accounts name (user-supplied)."""
        ca_file = settings.push_providers_ca_file or None
        timeout = settings.push_timeout_s
        transport = GuardedTokenTransport(token_http, timeout=timeout)
        return cls(
            fcm=FcmClient(
                base_url=settings.fcm_base_url,
                tokens=AccessTokens(transport),
                timeout=timeout,
                ca_file=ca_file,
            ),
            apns=ApnsClient(
                tokens=ProviderTokens(),
                timeout=timeout,
                base_url=settings.apns_base_url,
                ca_file=ca_file,
            ),
            ttl_s=settings.mobile_push_ttl_s,
        )

    def close(self) -> None:
        self.apns.close()


@dataclass
class PushRound:
    """The attempts of one push delivery at each subscription it has not reached yet."""

    delivery: ClaimedDelivery
    # Subscriptions done with: sent to, or refused for good (by this attempt or an earlier one).
    reached: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    transient: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    retry_after: float | None = None
    # subscription id -> its latest outcome: "sent", or the reason it was not.
    outcomes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reached = set(self.delivery.payload.get("sent_to", []))
        self.refused = set(self.delivery.payload.get("refused", []))
        self.outcomes = dict(self.delivery.payload.get("outcomes", {}))

    def due(self) -> list[PushTarget]:
        """Targets on the platforms the fan-out chose (by the user's preferences), neither
        reached nor refused for good by an earlier attempt."""
        platforms = self.delivery.payload.get("platforms", WEB_ONLY)
        done = self.reached | self.refused
        return [
            target
            for target in self.delivery.push_targets
            if target.platform in platforms and target.subscription_id not in done
        ]

    def attempt(self, target: PushTarget, send: Any) -> None:
        """Run `send()` for one target and note its outcome."""
        subscription = target.subscription_id
        try:
            send()
        except (SubscriptionGone, BlockedDestination) as failure:
            self.gone.append(subscription)
            self._refused(subscription, failure.reason)
        except TransientFailure as failure:
            self.transient.append(failure.reason)
            self.outcomes[subscription] = failure.reason
            self.retry_after = max(self.retry_after or 0.0, failure.retry_after or 0.0) or None
        except PermanentFailure as failure:
            self._refused(subscription, failure.reason)
        except Exception as exc:  # a client library's bug must not leave the delivery `sending`
            log.exception("push to subscription %s raised unexpectedly", subscription)
            self.transient.append(f"error while sending: {exc.__class__.__name__}")
        else:
            self.reached.add(subscription)
            self.outcomes[subscription] = "sent"

    def _refused(self, subscription: str, reason: str) -> None:
        self.refused.add(subscription)
        self.outcomes[subscription] = reason

    def payload(self) -> dict[str, Any]:
        """The delivery's payload with where this round got, for the next attempt (if any) and
        for the record: each subscription's outcome."""
        return {
            **self.delivery.payload,
            "sent_to": sorted(self.reached),
            "refused": sorted(self.refused),
            "outcomes": self.outcomes,
        }

    def failure_reason(self) -> str:
        """Every distinct refusal, in the order they came."""
        refusals = [self.outcomes[s] for s in self.outcomes if s in self.refused]
        return "; ".join(dict.fromkeys(refusals)) or "no active push subscription"


def push_one(
    target: PushTarget,
    *,
    delivery: ClaimedDelivery,
    identity: SendingIdentity,
    web_push: Mapping[str, Any],
    mobile: MobilePush,
) -> None:
    """Send the delivery's message to one subscription through its platform's provider."""
    if target.platform == "web":
        send_web_push(
            endpoint=target.token,
            p256dh=target.p256dh,
            auth=target.auth,
            payload=delivery.payload.get("message", {}),
            **web_push,
        )
        return
    message = mobile_message(delivery, ttl_s=mobile.ttl_s)
    if target.platform == "android":
        if identity.fcm_account is None:
            raise PermanentFailure(PROVIDER_NOT_CONFIGURED)
        mobile.fcm.send(identity.fcm_account, target.token, message)
    elif target.platform == "ios":
        if identity.apns is None:
            raise PermanentFailure(PROVIDER_NOT_CONFIGURED)
        topic = target.app_bundle_id or identity.apns.bundle_id
        mobile.apns.send(identity.apns, target.token, message, topic=topic)
    else:
        raise PermanentFailure(PROVIDER_NOT_CONFIGURED)


def mobile_message(delivery: ClaimedDelivery, *, ttl_s: int) -> MobileMessage:
    """The delivery's mobile content (a broadcast's `mobile_push` part, else the push channel's),
    its notification's category and tag, the user's badge."""
    payload = delivery.payload
    return MobileMessage.of(
        payload.get("mobile_message") or payload.get("message") or {},
        category=payload.get("category"),
        tag=payload.get("tag"),
        badge=delivery.badge,
        ttl_s=ttl_s,
    )
