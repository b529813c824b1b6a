"""Mobile push deliveries in tests: the process's FCM and APNs clients pointed at the fakes
(`mobile`), an app's credentials configured through the API and trusted by them (`providers`),
users' devices, and what became of their push deliveries. A plugin of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from uuid import uuid4

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.config import Settings
from app.engine.models import Delivery
from app.engine.push_dispatch import MobilePush
from app.push.models import PushSubscription
from app.push.service import register_subscription
from app.runtime import Runtime
from app.users.service import find_or_create_user
from tests.support.factories import Tenant, approved_template
from tests.support.mobile_push import (
    ApnsKey,
    FakeApns,
    FakeGoogle,
    new_apns_device_token,
    new_apns_key,
    new_service_account,
)
from tests.support.pipeline import batch, deliveries, finished

BUNDLE = "com.shop.app"
PROVIDERS = "/api/apps/current/push_providers"


@dataclass
class Providers:
    account: dict
    key: ApnsKey


@pytest.fixture
def mobile(
    runtime: Runtime,
    settings: Settings,
    fake_google: FakeGoogle,
    fake_apns: FakeApns,
    tls_ca_file: str,
) -> Iterator[MobilePush]:
    """This process's FCM and APNs clients, pointed at the fakes."""
    pointed = replace(
        settings,
        fcm_base_url=fake_google.url,
        apns_base_url=fake_apns.url,
        push_providers_ca_file=tls_ca_file,
    )
    runtime.mobile_push = MobilePush.from_settings(pointed, runtime.push_http)
    yield runtime.mobile_push
    runtime.mobile_push.close()
    del runtime.mobile_push  # the next test builds its own from the runtime's settings


@pytest.fixture
def providers(
    client: FlaskClient, tenant: Tenant, fake_google: FakeGoogle, fake_apns: FakeApns
) -> Providers:
    """The app's FCM service account and APNs key, configured through the API and trusted by
    the fakes."""
    account = new_service_account(fake_google.token_uri)
    fake_google.trust(account)
    key = new_apns_key()
    fake_apns.trust(key, [BUNDLE, "com.shop.clips"])
    fcm = client.put(f"{PROVIDERS}/fcm", json={"serviceAccount": account}, headers=tenant.headers())
    apns = client.put(
        f"{PROVIDERS}/apns",
        json={
            "keyId": key.key_id,
            "teamId": key.team_id,
            "privateKey": key.p8,
            "bundleId": BUNDLE,
            "environment": "sandbox",
        },
        headers=tenant.headers(),
    )
    assert (fcm.status_code, apns.status_code) == (200, 200), (fcm.get_json(), apns.get_json())
    return Providers(account, key)


def device(
    runtime: Runtime, tenant: Tenant, external_id: str, platform: str, bundle_id: str | None = None
) -> str:
    """Register a device of the user (created if new); returns its token."""
    token = new_apns_device_token() if platform == "ios" else f"fcm-{external_id}-{uuid4().hex}"
    with runtime.database.transaction() as session:
        user = find_or_create_user(session=session, app_id=tenant.app_id, external_id=external_id)
        register_subscription(
            session=session,
            app_id=tenant.app_id,
            user_id=user.id,
            platform=platform,
            device_token=token,
            destinations=runtime.push_http.guard,
            app_bundle_id=bundle_id,
        )
    return token


def push_outcomes(client: FlaskClient, tenant: Tenant, notification_id: str) -> dict[str, tuple]:
    """(status, reason, attempts) of each push delivery, by recipient external id."""
    return {
        d["target"]: (d["status"], d["reason"], d["attempts"])
        for d in deliveries(client, tenant, notification_id, "&channel=push")
    }


def send_and_finish(client: FlaskClient, tenant: Tenant, *external_ids: str) -> str:
    approved_template(client, tenant)
    sent = batch(client, tenant, [{"external_id": e} for e in external_ids])
    finished(client, tenant, sent["notificationId"])
    return sent["notificationId"]


def discarded(runtime: Runtime, *tokens: str) -> set[str]:
    with runtime.database.transaction() as session:
        rows = session.execute(
            select(PushSubscription.device_token).where(
                PushSubscription.device_token.in_(tokens),
                PushSubscription.discarded_at.is_not(None),
            )
        )
        return set(rows.scalars())


def queued_push_deliveries(runtime: Runtime, notification_id: str) -> list[str]:
    with runtime.database.transaction() as session:
        return list(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.notification_id == notification_id,
                    Delivery.channel == "push",
                    Delivery.status == "queued",
                )
            )
        )
