"""The dashboard benchmark's data: one app with 100,000 users, 1,000 notifications and their
1,000,000 deliveries, the in-app ones' inbox rows, and a push subscription for every tenth user,
written with PostgreSQL's COPY (a few hundred thousand rows a second).

Each notification goes to 1,000 consecutive users (wrapping), so every user has about ten
deliveries; the statuses are mostly `sent`, with failed, skipped and retrying ones carrying a
reason, and the newest notifications still sending.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import make_url

USERS = 100_000
NOTIFICATIONS = 1_000
PER_NOTIFICATION = 1_000
SENDING = 5  # the newest notifications, still under way
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EMPTY_OBJECT, EMPTY_LIST = "{}", "[]"
CHANNELS = ("email",) * 7 + ("push",) * 2 + ("in_app",)
# (status, reason) by delivery number modulo 100.
OUTCOMES = [("sent", None)] * 91 + [
    ("failed", "550 5.1.1 mailbox unavailable"),
    ("failed", "550 5.1.1 mailbox unavailable"),
    ("failed", "554 5.7.1 message rejected as spam"),
    ("failed", "push service answered 410 Gone"),
    ("failed", "timed out after 30 s"),
    ("skipped", "opted out of the category"),
    ("skipped", "no push subscription"),
    ("skipped", "suppressed: hard bounce"),
    ("retrying", "421 4.7.0 try again later"),
]


@dataclass
class Seeded:
    """What the timing needs to name: some notification, user and search prefixes."""

    notification_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    template_keys: list[str] = field(default_factory=list)


def external_id(number: int) -> str:
    return f"user-{number:06d}"


def email(number: int) -> str:
    return f"person{number:06d}@example.com"


def seed(database_url: str, *, app_id: str, template_keys: Sequence[str]) -> Seeded:
    """Write everything in one transaction, then VACUUM ANALYZE, as autovacuum leaves a
    long-lived database (statistics, and the visibility map index-only scans need)."""
    seeded = Seeded(template_keys=list(template_keys))
    seeded.user_ids = [str(uuid.uuid4()) for _ in range(USERS)]
    with psycopg.connect(libpq_url(database_url)) as connection:
        _copy(connection, "users", USER_COLUMNS, _users(app_id, seeded.user_ids))
        _copy(
            connection,
            "push_subscriptions",
            PUSH_COLUMNS,
            _subscriptions(app_id, seeded.user_ids),
        )
        _copy(connection, "notifications", NOTIFICATION_COLUMNS, _notifications(app_id, seeded))
        _copy(connection, "deliveries", DELIVERY_COLUMNS, _deliveries(app_id, seeded))
        _copy(connection, "inbox_notifications", INBOX_COLUMNS, _inbox(app_id, seeded))
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    return seeded


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq spells it (no `+psycopg`)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


def _copy(
    connection: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Any]
) -> None:
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[arg-type]
        for row in rows:
            copy.write_row(row)


USER_COLUMNS = (
    "id", "app_id", "external_id", "email", "first_name", "last_name", "custom_attributes",
    "phone_numbers", "last_seen_at", "last_notified_at", "created_at", "updated_at",
)  # fmt: skip


def _users(app_id: str, user_ids: list[str]) -> Iterator[tuple[Any, ...]]:
    attributes = json.dumps({"plan": "gold", "seats": 3})
    for number, user_id in enumerate(user_ids):
        created = EPOCH + timedelta(seconds=number * 30)
        yield (
            user_id, app_id, external_id(number), email(number), "Ada", f"Person {number}",
            attributes, EMPTY_LIST, created + timedelta(days=3), created + timedelta(days=1),
            created, created,
        )  # fmt: skip


PUSH_COLUMNS = (
    "id", "app_id", "user_id", "platform", "device_token", "token_hash", "app_bundle_id",
    "discarded_at", "created_at", "updated_at",
)  # fmt: skip


def _subscriptions(app_id: str, user_ids: list[str]) -> Iterator[tuple[Any, ...]]:
    for number in range(0, USERS, 10):
        token = hashlib.sha256(str(number).encode()).hexdigest()
        created = EPOCH + timedelta(seconds=number * 30 + 60)
        discarded = created + timedelta(days=30) if number % 100 == 0 else None
        yield (
            str(uuid.uuid4()), app_id, user_ids[number], "ios", token,
            hashlib.sha256(token.encode()).hexdigest(), "com.example.app", discarded, created,
            created,
        )  # fmt: skip


NOTIFICATION_COLUMNS = (
    "id", "app_id", "kind", "mode", "status", "channels", "template_key", "title", "variables",
    "content", "targets", "target_count", "rejected", "sent_from", "created_at", "updated_at",
)  # fmt: skip


def _sent_at(number: int) -> datetime:
    """Notifications spread over the 42 days after EPOCH, one an hour."""
    return EPOCH + timedelta(hours=number)


def _notifications(app_id: str, seeded: Seeded) -> Iterator[tuple[Any, ...]]:
    channels = json.dumps(["email", "push", "in_app"])
    keys = seeded.template_keys
    for number in range(NOTIFICATIONS):
        notification_id = str(uuid.uuid4())
        seeded.notification_ids.append(notification_id)
        status = "sending" if number >= NOTIFICATIONS - SENDING else "completed_with_errors"
        created = _sent_at(number)
        yield (
            notification_id, app_id, "template", "batch", status, channels,
            keys[number % len(keys)], f"Order update {number}", EMPTY_OBJECT, EMPTY_OBJECT,
            EMPTY_LIST, PER_NOTIFICATION, EMPTY_LIST, "api", created, created,
        )  # fmt: skip


DELIVERY_COLUMNS = (
    "id", "app_id", "notification_id", "user_id", "channel", "target", "status", "reason",
    "attempts", "payload", "sent_at", "next_attempt_at", "created_at", "updated_at",
)  # fmt: skip


def _recipients(number: int) -> Iterator[tuple[int, int]]:
    """(position, user number) of a notification's recipients."""
    first = number * 100
    for position in range(PER_NOTIFICATION):
        yield position, (first + position) % USERS


def _deliveries(app_id: str, seeded: Seeded) -> Iterator[tuple[Any, ...]]:
    for number, notification_id in enumerate(seeded.notification_ids):
        created = _sent_at(number)
        still_sending = number >= NOTIFICATIONS - SENDING
        for position, user in _recipients(number):
            channel = CHANNELS[position % len(CHANNELS)]
            status, reason = OUTCOMES[(number + position) % len(OUTCOMES)]
            if still_sending and position % 2:
                status, reason = "queued", None
            when = created + timedelta(seconds=position // 10)
            yield (
                str(uuid.uuid4()), app_id, notification_id, seeded.user_ids[user], channel,
                email(user) if channel == "email" else external_id(user), status, reason,
                0 if status in ("queued", "skipped") else 1 + (status == "retrying"),
                EMPTY_OBJECT, when if status == "sent" else None,
                when + timedelta(minutes=5) if status == "retrying" else None, when, when,
            )  # fmt: skip


INBOX_COLUMNS = (
    "id", "app_id", "user_id", "notification_id", "title", "content", "category",
    "custom_attributes", "shared_content", "sent_at", "seen_at", "read_at", "archived_at",
)  # fmt: skip


def _inbox(app_id: str, seeded: Seeded) -> Iterator[tuple[Any, ...]]:
    for number, notification_id in enumerate(seeded.notification_ids):
        created = _sent_at(number)
        for position, user in _recipients(number):
            if CHANNELS[position % len(CHANNELS)] != "in_app":
                continue
            seen = created + timedelta(hours=1) if user % 2 else None
            read = seen if user % 4 == 1 else None
            archived = read if user % 8 == 1 else None
            yield (
                str(uuid.uuid4()), app_id, seeded.user_ids[user], notification_id,
                f"Order update {number}", "Your order has shipped.", "orders", EMPTY_OBJECT,
                False, created, seen, read, archived,
            )  # fmt: skip
