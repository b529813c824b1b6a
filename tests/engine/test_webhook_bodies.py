"""A message's body is its events' stored texts joined: the same document `json.dumps` would
make of the decoded events, whatever their data holds. Of an endpoint's answer, 1 KB is kept."""

from __future__ import annotations

import json
from types import SimpleNamespace

from app.engine.channels.guarded_http import HttpReply
from app.engine.webhook_batches import message_body
from app.engine.webhook_sending import RESPONSE_KEPT_BYTES, _result
from app.webhooks.outbox import Event

DATA = {"text": 'quotes " and \\ backslashes, “unicode”, emoji 🎉, </script>', "n": [1, 2.5, None]}


def stored(event: Event) -> SimpleNamespace:
    """An outbox row as the pass reads it (type and payload text)."""
    return SimpleNamespace(type=event.type, payload=event.as_text())


def test_a_batch_body_is_the_events_documents_in_order() -> None:
    events = [Event("app", "delivery.sent", {**DATA, "i": i}) for i in range(3)]
    body = message_body([stored(event) for event in events])
    assert json.loads(body) == {"type": "batch", "events": [e.as_json() for e in events]}
    expected = {"type": "batch", "events": [e.as_json() for e in events]}
    assert body == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)


def test_an_event_sent_alone_is_its_own_document() -> None:
    event = Event("app", "notification.completed", DATA)
    assert json.loads(message_body([stored(event)])) == event.as_json()


def test_a_single_delivery_event_is_still_a_batch() -> None:
    event = Event("app", "delivery.failed", DATA)
    assert json.loads(message_body([stored(event)])) == {
        "type": "batch",
        "events": [event.as_json()],
    }


def test_an_answer_is_kept_to_its_first_kilobyte() -> None:
    result = _result(HttpReply(500, b"x" * 5_000), latency_ms=3)
    assert RESPONSE_KEPT_BYTES == 1024
    assert result.response_body == "x" * 1024
    assert (result.delivered, result.error, result.latency_ms) == (False, "answered 500", 3)
