"""Deliveries for the delivery ledger's tests: queued rows to claim, what the database then
holds, and ledger calls run in threads of their own or held in the middle of a batch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from app.engine import states
from app.engine.ledger import DeliveryLedger
from app.engine.models import Delivery, Notification
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.sinks import wait_until


def queued_deliveries(
    runtime: Runtime,
    tenant: Tenant,
    count: int,
    *,
    channel: str = "email",
    user_id: str | None = None,
) -> list[str]:
    """`count` queued deliveries of one new notification; their ids."""
    with runtime.database.transaction() as session:
        notification = Notification(
            app_id=tenant.app_id, kind="template", mode="batch", channels=[channel]
        )
        session.add(notification)
        session.flush()
        rows = [
            Delivery(
                app_id=tenant.app_id,
                notification_id=notification.id,
                user_id=user_id,
                channel=channel,
                target=f"u{i}@example.com",
                status=states.QUEUED,
                payload={"to": f"u{i}@example.com"},
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def stored(runtime: Runtime, delivery_ids: Sequence[str]) -> dict[str, Delivery]:
    """The deliveries with these ids as stored, by id."""
    with runtime.database.transaction() as session:
        rows = session.scalars(select(Delivery).where(Delivery.id.in_(list(delivery_ids))))
        return {row.id: row for row in rows}


def holding_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    ledger: DeliveryLedger,
    *,
    until_pending: int,
    then_raise: BaseException | None = None,
) -> list[list]:
    """Make `states.<name>` hold its first call until `until_pending` items wait for the next
    batch (then optionally raise); returns the items each call was given."""
    real = getattr(states, name)
    calls: list[list] = []

    def held(connection: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(kwargs.get("delivery_ids") or args[0]))
        if len(calls) == 1:
            wait_until(lambda: len(ledger._batches._pending) >= until_pending)
            if then_raise is not None:
                raise then_raise
        return real(connection, *args, **kwargs)

    monkeypatch.setattr(states, name, held)
    return calls


class Background:
    """One call running in its own thread; `error` is what it raised, if anything."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.error: BaseException | None = None
        self._call = call
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._call()
        except BaseException as exc:  # reported to the test, not to the thread's hook
            self.error = exc

    def join(self) -> None:
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the call never returned"


def in_background(*calls: Callable[[], Any]) -> list[Background]:
    return [Background(call) for call in calls]
