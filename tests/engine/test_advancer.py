"""The ledger's outcomes move their notifications on in the background, coalesced per process."""

from __future__ import annotations

from app.engine.advancer import Advancer
from app.engine.models import Delivery, Notification
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.sinks import wait_until


def sent_notification(runtime: Runtime, tenant: Tenant) -> str:
    with runtime.database.transaction() as session:
        notification = Notification(
            app_id=tenant.app_id, kind="template", mode="batch", status="sending", channels=[]
        )
        session.add(notification)
        session.flush()
        session.add(
            Delivery(
                app_id=tenant.app_id,
                notification_id=notification.id,
                channel="email",
                target="u1",
                status="sent",
            )
        )
        return notification.id


def stored(runtime: Runtime, notification_id: str) -> str:
    with runtime.database.transaction() as session:
        return session.get(Notification, notification_id).status


def test_noted_notifications_are_moved_on_shortly_after(runtime: Runtime, tenant: Tenant):
    advancer = Advancer(runtime.database, interval_s=0.01)
    first, second = sent_notification(runtime, tenant), sent_notification(runtime, tenant)

    advancer.note([first])
    advancer.note([second, first])

    wait_until(lambda: stored(runtime, first) == stored(runtime, second) == "completed", 10)


def test_a_failed_pass_does_not_stop_the_next_one(runtime: Runtime, tenant: Tenant):
    failing_once = _FailingOnce(runtime)
    advancer = Advancer(failing_once, interval_s=0.01)  # type: ignore[arg-type]
    lost, later = sent_notification(runtime, tenant), sent_notification(runtime, tenant)

    advancer.note([lost])  # this pass fails: left to the reconciler's sweep
    wait_until(lambda: failing_once.failed, 10)
    advancer.note([later])

    wait_until(lambda: stored(runtime, later) == "completed", 10)
    assert stored(runtime, lost) == "sending"


class _FailingOnce:
    """The runtime's database, except that the first connection fails."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.failed = False

    def connection_transaction(self):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise RuntimeError("database away")
        return self.runtime.database.connection_transaction()
