"""What the send pipeline asks the recipient side: one query per chunk of users, both engines."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.preferences import service as preferences
from app.push import service as push
from app.push.models import PushSubscription
from app.runtime import Runtime
from app.tenants.models import App
from app.topics import service as topics
from app.users import service as users
from app.users.models import User
from tests.support.factories import Tenant
from tests.support.recipients import FCM_ENDPOINT, WEB_KEYS, counting_statements, make_user


def _disable(runtime: Runtime, tenant: Tenant, user_id: str, category: str, *channels: str):
    with runtime.database.transaction() as session:
        app = session.get(App, tenant.app_id)
        preferences.update_preferences(
            session=session,
            app=app,
            user_id=user_id,
            categories=[
                {"slug": category, "channels": [{"slug": c, "enabled": False} for c in channels]}
            ],
        )


def _register(
    session: Session, runtime: Runtime, app_id: str, user_id: str, platform: str, token: str, **keys
) -> PushSubscription:
    """The user's device (or browser, given its keys) registered through the service."""
    subscription, _ = push.register_subscription(
        session=session,
        destinations=runtime.push_http.guard,
        app_id=app_id,
        user_id=user_id,
        platform=platform,
        device_token=token,
        **keys,
    )
    return subscription


def test_disabled_channels_answers_each_users_switched_off_channels(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    ann, bob, cat = (make_user(runtime, tenant, external_id=n) for n in ("ann", "bob", "cat"))
    _disable(runtime, tenant, ann, "billing", "email", "web_push")
    _disable(runtime, tenant, bob, "news", "email")
    _disable(runtime, tenant, cat, "billing", "in_app")
    with runtime.database.transaction() as session:
        preferences.update_preferences(
            session=session,
            app=session.get(App, tenant.app_id),
            user_id=cat,
            categories=[{"slug": "billing", "channels": [{"slug": "in_app", "enabled": True}]}],
        )

    with runtime.database.transaction() as session:
        assert preferences.disabled_channels(
            session, app_id=tenant.app_id, user_ids=[ann, bob, cat], category="billing"
        ) == {ann: {"email", "web_push"}}
        assert (
            preferences.disabled_channels(
                session, app_id=tenant.app_id, user_ids=[ann, bob], category=None
            )
            == {}
        )
        assert (
            preferences.disabled_channels(
                session, app_id=other_tenant.app_id, user_ids=[ann], category="billing"
            )
            == {}
        )


def test_critical_categories_have_nothing_disabled(runtime: Runtime, tenant: Tenant):
    ann = make_user(runtime, tenant, external_id="ann")
    _disable(runtime, tenant, ann, "security", "email")
    with runtime.database.transaction() as session:
        session.get(App, tenant.app_id).critical_categories = ["security"]

    with runtime.database.transaction() as session:
        assert (
            preferences.disabled_channels(
                session, app_id=tenant.app_id, user_ids=[ann], category="security"
            )
            == {}
        )


def test_unsubscribed_user_ids_covers_whole_topics_and_single_categories(
    runtime: Runtime, tenant: Tenant
):
    ann, bob, cat, dan = (make_user(runtime, tenant, external_id=n) for n in "abcd")
    with runtime.database.transaction() as session:
        common = {"session": session, "app_id": tenant.app_id}
        topics.unsubscribe(**common, user_id=ann, topic="issue-1", categories=[])
        topics.unsubscribe(
            **common, user_id=bob, topic="issue-1", categories=[{"slug": "comments"}]
        )
        topics.subscribe(**common, user_id=cat, topic="issue-1", categories=[{"slug": "comments"}])
        topics.unsubscribe(**common, user_id=dan, topic="issue-2", categories=[])
    everyone = [ann, bob, cat, dan]

    with runtime.database.transaction() as session:

        def unsubscribed(topic: str | None, category: str | None) -> set[str]:
            return topics.unsubscribed_user_ids(
                session, app_id=tenant.app_id, user_ids=everyone, topic=topic, category=category
            )

        assert unsubscribed("issue-1", "comments") == {ann, bob}
        assert unsubscribed("issue-1", "mentions") == {ann}
        assert unsubscribed("issue-1", None) == {ann}
        assert unsubscribed("issue-2", "comments") == {dan}
        assert unsubscribed(None, "comments") == set()


def test_resubscribing_and_deleting_lift_an_opt_out(runtime: Runtime, tenant: Tenant):
    ann, bob = (make_user(runtime, tenant, external_id=n) for n in ("ann", "bob"))
    with runtime.database.transaction() as session:
        common = {"session": session, "app_id": tenant.app_id, "topic": "t"}
        topics.unsubscribe(**common, user_id=ann, categories=[])
        topics.unsubscribe(**common, user_id=bob, categories=[{"slug": "c"}])
        topics.subscribe(**common, user_id=ann, categories=[])
        topics.delete_subscription(**common, user_id=bob, categories=["c"])

    with runtime.database.transaction() as session:
        assert (
            topics.unsubscribed_user_ids(
                session, app_id=tenant.app_id, user_ids=[ann, bob], topic="t", category="c"
            )
            == set()
        )


def test_subscriber_user_ids_are_the_current_subscribers_of_the_app(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    ann, bob, cat = (make_user(runtime, tenant, external_id=n) for n in ("ann", "bob", "cat"))
    theirs = make_user(runtime, other_tenant, external_id="ann")
    with runtime.database.transaction() as session:
        mine = {"session": session, "app_id": tenant.app_id, "topic": "t"}
        for user_id in (ann, bob):
            topics.subscribe(**mine, user_id=user_id, categories=[])
        topics.subscribe(
            session=session, app_id=other_tenant.app_id, user_id=theirs, topic="t", categories=[]
        )
        topics.unsubscribe(**mine, user_id=bob, categories=[])
        topics.unsubscribe(**mine, user_id=cat, categories=[{"slug": "x"}])

    with runtime.database.transaction() as session:
        assert topics.subscriber_user_ids(session, app_id=tenant.app_id, topics=["t"]) == [ann]
        assert topics.subscriber_user_ids(session, app_id=tenant.app_id, topics=["other"]) == []


def test_subscribers_of_several_topics_come_topic_by_topic_each_once(
    runtime: Runtime, tenant: Tenant
):
    ann, bob, cat = (make_user(runtime, tenant, external_id=n) for n in ("ann", "bob", "cat"))
    with runtime.database.transaction() as session:
        for user_id, topic in ((ann, "a"), (bob, "b"), (cat, "a"), (ann, "b")):
            topics.subscribe(
                session=session, app_id=tenant.app_id, user_id=user_id, topic=topic, categories=[]
            )

    with runtime.database.transaction() as session:
        found = topics.subscriber_user_ids(session, app_id=tenant.app_id, topics=["b", "a"])

    assert found == [bob, ann, cat]


def test_active_subscriptions_skip_discarded_ones_and_other_apps(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    ann, bob = (make_user(runtime, tenant, external_id=n) for n in ("ann", "bob"))
    theirs = make_user(runtime, other_tenant, external_id="ann")
    with runtime.database.transaction() as session:
        web = _register(session, runtime, tenant.app_id, ann, "web", FCM_ENDPOINT, **WEB_KEYS)
        phone = _register(session, runtime, tenant.app_id, ann, "ios", "d1")
        gone = _register(session, runtime, tenant.app_id, bob, "android", "d2")
        _register(session, runtime, other_tenant.app_id, theirs, "ios", "d3")
        push.discard_subscriptions(session, subscription_ids=[gone.id])
        ids = {"web": web.id, "phone": phone.id}

    with runtime.database.transaction() as session:
        active = push.active_subscriptions(
            session, app_id=tenant.app_id, user_ids=[ann, bob, theirs]
        )
        assert {user: [s.id for s in subs] for user, subs in active.items()} == {
            ann: [ids["web"], ids["phone"]]
        }
        web_subscription = active[ann][0]
        assert (web_subscription.p256dh, web_subscription.auth) == (
            WEB_KEYS["p256dh"],
            WEB_KEYS["auth"],
        )
        assert [push.channel_for_platform(s.platform) for s in active[ann]] == [
            "web_push",
            "mobile_push",
        ]


def test_discarding_twice_keeps_the_first_time(runtime: Runtime, tenant: Tenant):
    ann = make_user(runtime, tenant, external_id="ann")
    with runtime.database.transaction() as session:
        subscription = _register(session, runtime, tenant.app_id, ann, "ios", "d")
        push.discard_subscriptions(session, subscription_ids=[subscription.id])
        first = subscription.discarded_at
        push.discard_subscriptions(session, subscription_ids=[subscription.id])
        push.discard_subscriptions(session, subscription_ids=["no-such-id"])

        assert first is not None and subscription.discarded_at == first


def test_mark_notified_sets_last_notified_at_for_the_chunk(runtime: Runtime, tenant: Tenant):
    ann, bob = (make_user(runtime, tenant, external_id=n) for n in ("ann", "bob"))

    with runtime.database.transaction() as session:
        users.mark_notified(session, app_id=tenant.app_id, user_ids=[ann])

    with runtime.database.transaction() as session:
        notified = dict(session.execute(select(User.id, User.last_notified_at)).all())
        assert notified[ann] is not None and notified[bob] is None


def test_each_pipeline_question_is_one_query_for_a_whole_chunk(runtime: Runtime, tenant: Tenant):
    user_ids = [make_user(runtime, tenant, external_id=f"u-{n}") for n in range(40)]
    with runtime.database.transaction() as session:
        for user_id in user_ids[::2]:
            _register(session, runtime, tenant.app_id, user_id, "ios", f"d-{user_id}")
            topics.unsubscribe(
                session=session,
                app_id=tenant.app_id,
                user_id=user_id,
                topic="t",
                categories=[{"slug": "c"}],
            )
    for user_id in user_ids[::3]:
        _disable(runtime, tenant, user_id, "billing", "email")

    with runtime.database.transaction() as session:
        app = session.get(App, tenant.app_id)  # the pipeline holds its app already
        common = {"app_id": tenant.app_id, "user_ids": user_ids}
        with counting_statements(runtime.database.engine) as statements:
            disabled = preferences.disabled_channels(session, **common, category="billing")
            opted_out = topics.unsubscribed_user_ids(session, **common, topic="t", category="c")
            active = push.active_subscriptions(session, **common)
            users.mark_notified(session, **common)

    assert app.critical_categories == []
    assert len(statements) == 4
    assert (len(disabled), len(opted_out), len(active)) == (14, 20, 20)


def test_push_goes_to_the_platforms_the_user_allows_and_the_app_has_a_provider_for():
    """Legacy Safari tokens belong to `web_push` preferences, ios/android ones to `mobile_push`;
    iOS and Android are sent to once the app configured APNs, FCM."""
    from app.engine.fanout import Recipient, _decide_push
    from app.engine.pipeline import LiteralContent

    notification = SimpleNamespace(category=None, tag=None)
    content = LiteralContent(push={"title": "Hi"})
    safari = [PushSubscription(platform="safari", device_token="t")]
    phone = [PushSubscription(platform="android", device_token="t")]
    browser = [PushSubscription(platform="web", device_token="https://push.example/1")]

    def decide(blocked, subscriptions, providers=frozenset()):
        recipient = Recipient(None, None, dict.fromkeys(blocked, False), subscriptions, "")
        status, reason, payload = _decide_push(notification, recipient, content, providers)
        return status, reason or payload["platforms"]

    assert decide({"mobile_push"}, safari) == ("skipped", "provider_not_configured")
    assert decide({"web_push"}, safari) == ("skipped", "preference")
    assert decide({"mobile_push"}, phone) == ("skipped", "preference")
    assert decide({"web_push"}, safari + phone) == ("skipped", "provider_not_configured")
    assert decide(set(), phone) == ("skipped", "provider_not_configured")
    assert decide(set(), phone, frozenset({"android"})) == ("queued", ["android"])
    assert decide(set(), browser + phone, frozenset({"ios"})) == ("queued", ["web"])
    assert decide({"web_push"}, browser + phone, frozenset({"android"})) == ("queued", ["android"])
    assert decide({"mobile_push"}, browser + phone, frozenset({"android"})) == ("queued", ["web"])
    assert decide(set(), [], frozenset({"android"})) == ("skipped", "no_push_subscription")


def test_a_broadcasts_own_mobile_part_goes_to_devices_and_its_push_part_to_browsers():
    from app.engine.fanout import Recipient, _decide_push
    from app.engine.pipeline import LiteralContent

    notification = SimpleNamespace(category="news", tag="t1")
    devices = [
        PushSubscription(platform="web", device_token="https://push.example/1"),
        PushSubscription(platform="android", device_token="t"),
    ]
    recipient = Recipient(None, None, {}, devices, "")
    content = LiteralContent(push={"title": "Web"}, mobile_push={"title": "Phone"})

    status, _, payload = _decide_push(notification, recipient, content, frozenset({"android"}))

    assert status == "queued"
    assert payload["message"] == {"title": "Web"}
    assert payload["mobile_message"] == {"title": "Phone"}
    assert (payload["category"], payload["tag"]) == ("news", "t1")
