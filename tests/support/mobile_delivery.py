"""Mobile push deliveries in tests: the process's FCM and APNs clients pointed at the fakes
(`mobile`), an app's credentials configured through the API and trusted by them (`providers`),
its users' devices and sends to them (`users`), and what became of their push deliveries. A
plugin of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from uuid import uuid4

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.config import Settings
from app.engine.models import Delivery
from app.engine.push_dispatch import MobilePush
from app.push.models import PushSubscription
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.mobile_push import (
    ApnsKey,
    FakeApns,
    FakeGoogle,
    new_apns_device_token,
    new_apns_key,
    new_service_account,
)
from tests.support.pipeline import batch, deliveries, finished, register_device
from tests.support.push_providers import PROVIDERS, apns_body

BUNDLE = "com.shop.app"


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
    apns = put_apns_key(client, tenant, key)
    assert (fcm.status_code, apns.status_code) == (200, 200), (fcm.get_json(), apns.get_json())
    return Providers(account, key)


def put_apns_key(client: FlaskClient, tenant: Tenant, key: ApnsKey) -> TestResponse:
    """Save the app's APNs key, for BUNDLE in the sandbox."""
    body = apns_body(key, bundleId=BUNDLE, environment="sandbox")
    return client.put(f"{PROVIDERS}/apns", json=body, headers=tenant.headers())


@dataclass
class MobileUsers:
    """The app's users and their devices, sends to them through the API, and what became of
    their push deliveries."""

    client: FlaskClient
    tenant: Tenant
    runtime: Runtime
    template_approved: bool = False

    def device(self, external_id: str, platform: str, bundle_id: str | None = None) -> str:
        """Register a device of the user (created if new); returns its token."""
        token = new_apns_device_token() if platform == "ios" else f"fcm-{external_id}-{uuid4().hex}"
        register_device(
            self.runtime, self.tenant, external_id, platform, token, app_bundle_id=bundle_id
        )
        return token

    def batch(self, *external_ids: str) -> str:
        """A batch of the order template (approved before the first) to these users; its id."""
        if not self.template_approved:
            approved_template(self.client, self.tenant)
            self.template_approved = True
        targets = [{"external_id": e} for e in external_ids]
        return batch(self.client, self.tenant, targets)["notificationId"]

    def send(self, *external_ids: str) -> str:
        """A batch to these users, once finished; its notification id."""
        notification_id = self.batch(*external_ids)
        finished(self.client, self.tenant, notification_id)
        return notification_id

    def push_outcomes(self, notification_id: str) -> dict[str, tuple]:
        """(status, reason, attempts) of each push delivery, by recipient external id."""
        return {
            d["target"]: (d["status"], d["reason"], d["attempts"])
            for d in deliveries(self.client, self.tenant, notification_id, "&channel=push")
        }

    def discarded(self, *tokens: str) -> set[str]:
        """Those of the devices' tokens that were discarded."""
        with self.runtime.database.transaction() as session:
            rows = session.execute(
                select(PushSubscription.device_token).where(
                    PushSubscription.device_token.in_(tokens),
                    PushSubscription.discarded_at.is_not(None),
                )
            )
            return set(rows.scalars())

    def queued_push_deliveries(self, notification_id: str) -> list[str]:
        with self.runtime.database.transaction() as session:
            return list(
                session.scalars(
                    select(Delivery.id).where(
                        Delivery.notification_id == notification_id,
                        Delivery.channel == "push",
                        Delivery.status == "queued",
                    )
                )
            )


@pytest.fixture
def users(client: FlaskClient, tenant: Tenant, runtime: Runtime) -> MobileUsers:
    """The app's users and their devices (see MobileUsers)."""
    return MobileUsers(client, tenant, runtime)
