"""The outbox: events written in the transaction of the change they report, one row per
endpoint subscribed to them, for the workers to batch and send (docs/webhooks.md).

Which endpoints an app has is read once per process and kept until an app's settings change
(the apps' generation in Redis, bumped after each commit that changed an endpoint, as for the
apps' sending identities), so a change reported for an app without webhooks costs a dictionary
lookup. A process's outbox rides on its database's sessions (`install_outbox`): the services
and the engine find it there (`outbox_of`) without being handed it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from app.orm import new_id, utcnow
from app.webhooks.models import ALL_EVENTS, EVENT_TYPES, WebhookEndpoint, WebhookEvent
from app.webhooks.signing import new_event_id

# The bound on staleness when Redis missed a change (as for the apps' sending identities).
SUBSCRIBERS_TTL_S = 30.0
_SESSION_KEY = "herald_webhook_outbox"
_events = WebhookEvent.__table__
_endpoints = WebhookEndpoint.__table__

# Event type -> ids of the app's enabled endpoints subscribed to it.
Subscribers = Mapping[str, tuple[str, ...]]


def iso(moment: datetime) -> str:
    """ISO 8601 UTC, as the Herald API writes timestamps."""
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """Something that happened to one app, as its endpoints are told."""

    app_id: str
    type: str
    data: dict[str, Any]
    id: str = field(default_factory=new_event_id)
    at: datetime = field(default_factory=utcnow)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": iso(self.at),
            "appId": self.app_id,
            "data": self.data,
        }

    def as_text(self) -> str:
        """The event as a message's body holds it (compact JSON, serialized once)."""
        return json.dumps(self.as_json(), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class _Known:
    subscribers: Subscribers
    generation: bytes | None
    loaded_at: float


class WebhookOutbox:
    """Writes events for the endpoints subscribed to them. `generation` reads the apps'
    generation (None: nothing is kept, every question asks the database)."""

    def __init__(self, generation: Callable[[], bytes | None] | None = None) -> None:
        self._generation = generation
        self._known: dict[str, _Known] = {}

    def subscribed(self, connection: Connection, app_id: str) -> frozenset[str]:
        """The event types some enabled endpoint of the app is subscribed to."""
        return frozenset(self._subscribers(connection, app_id))

    def write(self, connection: Connection, events: Iterable[Event]) -> int:
        """One row per event and endpoint subscribed to its type, in one executemany insert;
        returns how many."""
        rows: list[dict[str, Any]] = []
        of_app: dict[str, Subscribers] = {}
        for event in events:
            if event.app_id not in of_app:
                of_app[event.app_id] = self._subscribers(connection, event.app_id)
            endpoint_ids = of_app[event.app_id].get(event.type, ())
            payload = event.as_text() if endpoint_ids else None
            rows += [
                {
                    "id": new_id(),
                    "event_id": event.id,
                    "endpoint_id": endpoint_id,
                    "type": event.type,
                    "payload": payload,
                    "created_at": event.at,
                }
                for endpoint_id in endpoint_ids
            ]
        if rows:
            connection.execute(insert(_events), rows)
        return len(rows)

    def _subscribers(self, connection: Connection, app_id: str) -> Subscribers:
        if self._generation is None:
            return _read_subscribers(connection, app_id)
        generation = self._generation()
        known = self._known.get(app_id)
        if (
            known is not None
            and known.generation == generation
            and time.monotonic() - known.loaded_at < SUBSCRIBERS_TTL_S
        ):
            return known.subscribers
        subscribers = _read_subscribers(connection, app_id)
        self._known[app_id] = _Known(subscribers, generation, time.monotonic())
        return subscribers


def _read_subscribers(connection: Connection, app_id: str) -> Subscribers:
    rows = connection.execute(
        select(_endpoints.c.id, _endpoints.c.events).where(
            _endpoints.c.app_id == app_id, _endpoints.c.enabled.is_(True)
        )
    )
    found: dict[str, list[str]] = {}
    for endpoint_id, events in rows:
        types = EVENT_TYPES if ALL_EVENTS in events else events
        for event_type in types:
            found.setdefault(event_type, []).append(endpoint_id)
    return {event_type: tuple(ids) for event_type, ids in found.items()}


def install_outbox(factory: sessionmaker[Session], outbox: WebhookOutbox) -> None:
    """Every session of this factory writes its events through `outbox`."""
    factory.configure(info={_SESSION_KEY: outbox})


def outbox_of(session: Session) -> WebhookOutbox:
    """The process's outbox, or one that keeps nothing for a session of another factory."""
    return session.info.get(_SESSION_KEY) or WebhookOutbox()


def write_events(session: Session, events: Iterable[Event]) -> int:
    """Write these events in the session's transaction (see `WebhookOutbox.write`)."""
    return outbox_of(session).write(session.connection(), events)
