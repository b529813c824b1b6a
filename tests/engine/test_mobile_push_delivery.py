"""Mobile push end to end: a batch through the send API and a real worker, to Android devices by
FCM HTTP v1 and iOS devices by APNs over HTTP/2, against fakes speaking both protocols."""

from __future__ import annotations

import dramatiq
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.engine.models import Delivery
from app.engine.push_dispatch import MobilePush
from app.engine.sending import send_push_delivery
from app.push.models import PushSubscription
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.mobile_delivery import BUNDLE, MobileUsers, Providers, put_apns_key
from tests.support.mobile_push import (
    FakeApns,
    FakeGoogle,
    apns_error,
    fcm_error,
    fcm_invalid_token,
    fcm_unregistered,
    new_apns_key,
    new_service_account,
)
from tests.support.pipeline import fan_out_now, subscribe
from tests.support.push_providers import PROVIDERS
from tests.support.sinks import PushService, wait_until
from workers.actors import Actors


@pytest.mark.usefixtures("mobile")
def test_a_batch_reaches_every_browser_android_and_ios_device_once(
    users: MobileUsers,
    providers: Providers,
    fake_google: FakeGoogle,
    fake_apns: FakeApns,
    push_service: PushService,
    worker: dramatiq.Worker,
):
    browser = subscribe(users.runtime, users.tenant, push_service, "web-only")
    both = (users.device("two-phones", "android"), users.device("two-phones", "ios"))
    android = users.device("android-only", "android")
    clips = users.device("clips-app", "ios", bundle_id="com.shop.clips")

    notification_id = users.send("web-only", "two-phones", "android-only", "clips-app")

    assert set(users.push_outcomes(notification_id).values()) == {("sent", None, 1)}
    [web_push] = browser.received
    assert web_push["title"] == "Order ORD-1"
    fcm = {m.message["token"]: m for m in fake_google.messages}
    assert sorted(fcm) == sorted([both[0], android])
    assert fcm[android].project_id == providers.account["project_id"]
    assert fcm[android].message["notification"] == {
        "title": "Order ORD-1",
        "body": "Confirmed for Jane",
    }
    assert fcm[android].message["android"]["ttl"] == "86400s"
    apns = {r.device_token: r for r in fake_apns.requests}
    assert sorted(apns) == sorted([both[1], clips])
    assert apns[both[1]].headers["apns-topic"] == BUNDLE  # the app's default bundle id
    assert apns[clips].headers["apns-topic"] == "com.shop.clips"  # the device's own app
    assert apns[clips].headers["apns-push-type"] == "alert"
    assert apns[clips].payload["aps"]["alert"] == {
        "title": "Order ORD-1",
        "body": "Confirmed for Jane",
    }
    assert apns[clips].payload["aps"]["badge"] == 1  # this notification, unread in the inbox
    assert fake_apns.connections_opened == 1
    assert len(fake_apns.provider_tokens_seen) == 1


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_tokens_the_provider_no_longer_knows_are_discarded_and_never_retried(
    users: MobileUsers, fake_google: FakeGoogle, fake_apns: FakeApns
):
    uninstalled, malformed = users.device("ann", "android"), users.device("ann", "android")
    unregistered, bad = users.device("ann", "ios"), users.device("ann", "ios")
    fake_google.script(uninstalled, fcm_unregistered())
    fake_google.script(malformed, fcm_invalid_token())
    fake_apns.script(unregistered, apns_error("Unregistered"))
    fake_apns.script(bad, apns_error("BadDeviceToken"))

    notification_id = users.send("ann")

    [(status, reason, attempts)] = users.push_outcomes(notification_id).values()
    assert (status, attempts) == ("failed", 1)
    assert sorted(reason.split("; ")) == [
        "apns 400: BadDeviceToken",
        "apns 410: Unregistered",
        "fcm 400: INVALID_ARGUMENT",
        "fcm 404: UNREGISTERED",
    ]
    assert users.discarded(uninstalled, malformed, unregistered, bad) == {
        uninstalled,
        malformed,
        unregistered,
        bad,
    }
    assert (fake_google.attempts(uninstalled), fake_google.attempts(malformed)) == ([404], [400])
    assert len(fake_apns.requests) == 2


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_an_overloaded_provider_is_retried_and_devices_already_reached_are_not_sent_again(
    users: MobileUsers, fake_google: FakeGoogle, fake_apns: FakeApns
):
    busy_android = users.device("ann", "android")
    fine_android = users.device("ann", "android")
    busy_iphone = users.device("bob", "ios")
    fake_google.script(
        busy_android, fcm_error("UNAVAILABLE"), fcm_error("QUOTA_EXCEEDED", retry_after=1)
    )
    fake_apns.script(busy_iphone, apns_error("TooManyRequests", retry_after=1))

    notification_id = users.send("ann", "bob")

    assert users.push_outcomes(notification_id) == {
        "ann": ("sent", None, 3),
        "bob": ("sent", None, 2),
    }
    assert fake_google.attempts(busy_android) == [503, 429, 200]
    assert fake_google.attempts(fine_android) == [200]  # reached on the first attempt only
    assert [r.status for r in fake_apns.requests] == [429, 200]
    assert users.discarded(busy_android, fine_android, busy_iphone) == set()


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_a_refused_access_token_or_provider_token_is_replaced_once_and_the_send_goes_through(
    users: MobileUsers, fake_google: FakeGoogle, fake_apns: FakeApns
):
    users.device("ann", "android")
    users.device("ann", "ios")
    first = users.send("ann")
    fake_google.revoke_tokens()
    fake_apns.expire_provider_tokens()

    second = users.send("ann")

    for notification_id in (first, second):
        assert users.push_outcomes(notification_id) == {"ann": ("sent", None, 1)}
    assert fake_google.tokens_issued == 2
    assert len(fake_apns.provider_tokens_seen) == 2
    assert len(fake_google.messages) == len([r for r in fake_apns.requests if r.status == 200]) == 2


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_credentials_the_provider_keeps_refusing_fail_with_provider_auth_failed(
    users: MobileUsers, fake_google: FakeGoogle
):
    android = users.device("ann", "android")
    iphone = users.device("bob", "ios")
    fake_google.refuse_grants()  # the service account's key was deleted
    put_apns_key(users.client, users.tenant, new_apns_key())  # a key Apple no longer accepts

    notification_id = users.send("ann", "bob")

    assert users.push_outcomes(notification_id) == {
        "ann": ("failed", "provider_auth_failed", 1),
        "bob": ("failed", "provider_auth_failed", 1),
    }
    assert users.discarded(android, iphone) == set()  # the devices are fine


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_other_refusals_fail_with_the_providers_reason_and_keep_the_device(
    users: MobileUsers, fake_google: FakeGoogle, fake_apns: FakeApns
):
    android = users.device("ann", "android")
    iphone = users.device("bob", "ios")
    fake_google.script(android, fcm_error("SENDER_ID_MISMATCH"))
    fake_apns.script(iphone, apns_error("DeviceTokenNotForTopic"))

    notification_id = users.send("ann", "bob")

    assert users.push_outcomes(notification_id) == {
        "ann": ("failed", "fcm 403: SENDER_ID_MISMATCH SenderId mismatch", 1),
        "bob": ("failed", "apns 400: DeviceTokenNotForTopic", 1),
    }
    assert users.discarded(android, iphone) == set()


@pytest.mark.usefixtures("mobile", "worker")
def test_without_a_provider_mobile_only_users_are_skipped_and_with_one_they_are_sent_to(
    users: MobileUsers, client: FlaskClient, tenant: Tenant, fake_google: FakeGoogle
):
    users.device("ann", "android")
    before = users.send("ann")
    account = new_service_account(fake_google.token_uri)
    fake_google.trust(account)
    client.put(f"{PROVIDERS}/fcm", json={"serviceAccount": account}, headers=tenant.headers())

    after = users.send("ann")

    assert users.push_outcomes(before) == {"ann": ("skipped", "provider_not_configured", 0)}
    assert users.push_outcomes(after) == {"ann": ("sent", None, 1)}


@pytest.mark.usefixtures("mobile", "providers")
def test_a_provider_removed_mid_batch_fails_its_devices_with_provider_not_configured(
    users: MobileUsers, runtime: Runtime, actors: Actors
):
    users.device("ann", "ios")
    users.device("bob", "android")
    notification_id = users.batch("ann", "bob")
    fan_out_now(runtime, actors, notification_id)  # both push deliveries queued

    removed = users.client.delete(f"{PROVIDERS}/fcm", headers=users.tenant.headers())
    wait_until(lambda: runtime.senders.identity(users.tenant.app_id).fcm_account is None)
    for delivery_id in users.queued_push_deliveries(notification_id):
        send_push_delivery(runtime, delivery_id=delivery_id)

    assert removed.status_code == 204
    assert users.push_outcomes(notification_id) == {
        "ann": ("sent", None, 1),
        "bob": ("failed", "provider_not_configured", 1),
    }


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_delivery_outcomes_are_kept_per_device(
    users: MobileUsers, runtime: Runtime, fake_google: FakeGoogle
):
    kept = users.device("ann", "android")
    gone = users.device("ann", "android")
    fake_google.script(gone, fcm_unregistered())

    notification_id = users.send("ann")

    with runtime.database.transaction() as session:
        delivery = session.scalars(
            select(Delivery).where(
                Delivery.notification_id == notification_id, Delivery.channel == "push"
            )
        ).one()
        ids = dict(
            session.execute(
                select(PushSubscription.device_token, PushSubscription.id).where(
                    PushSubscription.device_token.in_([kept, gone])
                )
            ).all()
        )
    assert delivery.status == "sent"
    assert delivery.payload["outcomes"] == {
        ids[kept]: "sent",
        ids[gone]: "fcm 404: UNREGISTERED",
    }


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_apns_connections_are_shared_by_the_workers_threads_and_reopened_after_goaway(
    users: MobileUsers, fake_apns: FakeApns
):
    people = [f"u{i}" for i in range(12)]
    for person in people:
        users.device(person, "ios")
    first = users.send(*people)
    fake_apns.goaway()

    second = users.send(*people)

    for notification_id in (first, second):
        assert {o[0] for o in users.push_outcomes(notification_id).values()} == {"sent"}
    assert fake_apns.connections_opened == 2


class BrokenClient:
    """A provider client with a bug: it raises what no provider answer maps to."""

    def send(self, *_args: object, **_kwargs: object) -> None:
        raise KeyError(43)

    def close(self) -> None:
        pass


@pytest.mark.usefixtures("mobile", "providers", "worker")
def test_a_client_error_is_a_failure_for_now_not_a_delivery_stuck_sending(
    users: MobileUsers, mobile: MobilePush
):
    users.device("ann", "ios")
    mobile.apns = BrokenClient()  # type: ignore[assignment]

    notification_id = users.send("ann")

    attempts = users.runtime.retry_policy.max_attempts
    assert users.push_outcomes(notification_id) == {
        "ann": (
            "failed",
            f"gave up after {attempts} attempts: error while sending: KeyError",
            attempts,
        )
    }
