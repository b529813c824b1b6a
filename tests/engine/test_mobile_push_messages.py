"""What Herald puts in an FCM message and an APNs request for one rendered push."""

from __future__ import annotations

import time

from app.engine.channels.apns import apns_headers, apns_payload
from app.engine.channels.fcm import fcm_message
from app.engine.channels.mobile import MobileMessage

RENDERED = {
    "title": "Order ORD-1",
    "body": "Confirmed for Jane",
    "data": {"orderId": "ORD-1", "items": 3, "gift": {"wrap": True}},
    "url": "https://shop.test/orders/ORD-1",
    "icon": "https://shop.test/icon.png",
}


def message(**overrides) -> MobileMessage:
    options = {"category": "orders", "tag": "order-ORD-1", "badge": 4, "ttl_s": 3600}
    return MobileMessage.of(RENDERED, **{**options, **overrides})


def test_an_fcm_message_carries_the_notification_string_data_ttl_and_collapse_key():
    sent = fcm_message("device-1", message())

    assert sent == {
        "token": "device-1",
        "notification": {
            "title": "Order ORD-1",
            "body": "Confirmed for Jane",
            "image": "https://shop.test/icon.png",
        },
        "data": {
            "orderId": "ORD-1",
            "items": "3",
            "gift": '{"wrap":true}',
            "url": "https://shop.test/orders/ORD-1",
        },
        "android": {
            "ttl": "3600s",
            "priority": "high",
            "collapse_key": "order-ORD-1",
            "notification": {"tag": "order-ORD-1"},
        },
    }


def test_an_fcm_message_without_text_or_data_sends_neither_part():
    sent = fcm_message("device-1", MobileMessage(ttl_s=60))

    assert sent == {"token": "device-1", "android": {"ttl": "60s", "priority": "high"}}


def test_an_apns_payload_has_the_alert_sound_badge_and_thread_beside_the_data():
    payload = apns_payload(message())

    assert payload == {
        "aps": {
            "alert": {"title": "Order ORD-1", "body": "Confirmed for Jane"},
            "sound": "default",
            "badge": 4,
            "thread-id": "orders",
        },
        "orderId": "ORD-1",
        "items": 3,
        "gift": {"wrap": True},
        "url": "https://shop.test/orders/ORD-1",
    }


def test_template_data_cannot_replace_the_aps_dictionary():
    payload = apns_payload(MobileMessage(title="Hi", data={"aps": {"badge": 99}}))

    assert payload["aps"] == {"alert": {"title": "Hi"}, "sound": "default"}


def test_apns_headers_name_the_topic_type_expiry_and_collapse_id():
    before = int(time.time())

    headers = apns_headers(message(tag="t" * 80), topic="com.shop.app")

    assert headers["apns-topic"] == "com.shop.app"
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "10"
    assert before + 3600 <= int(headers["apns-expiration"]) <= int(time.time()) + 3600
    assert headers["apns-collapse-id"] == "t" * 64  # APNs refuses ids over 64 bytes


def test_a_message_without_a_tag_has_no_collapse_id():
    assert "apns-collapse-id" not in apns_headers(message(tag=None), topic="com.shop.app")
