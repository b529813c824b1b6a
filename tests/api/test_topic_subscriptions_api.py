"""Seed 002 topic subscriptions: subscribe, opt out of a topic or its categories, delete."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.factories import Tenant

URL = "/subscriptions"


def _subscribe(client: FlaskClient, headers: dict[str, str], topic: str, *slugs: str):
    categories = [{"slug": slug, "reason": "watching"} for slug in slugs]
    return client.post(
        URL, json={"subscription": {"topic": topic, "categories": categories}}, headers=headers
    )


def _unsubscribe(client: FlaskClient, headers: dict[str, str], topic: str, *slugs: str):
    body = {"subscription": {"categories": [{"slug": slug} for slug in slugs]}} if slugs else None
    return client.post(f"{URL}/{topic}/unsubscribe", json=body, headers=headers)


def _statuses(subscription: dict) -> dict[str, str]:
    return {c["slug"]: c["status"] for c in subscription["categories"]}


def test_subscribing_answers_201_then_200_and_shows_the_categories(
    client: FlaskClient, tenant: Tenant
):
    headers = tenant.user_headers("u-1")

    first = _subscribe(client, headers, "issue-1", "comments")
    again = _subscribe(client, headers, "issue-1", "mentions")

    assert (first.status_code, again.status_code) == (201, 200)
    subscription = again.get_json()["subscription"]
    assert subscription["topic"] == "issue-1" and subscription["status"] == "subscribed"
    assert subscription["categories"] == [
        {"slug": "comments", "reason": "watching", "status": "subscribed"},
        {"slug": "mentions", "reason": "watching", "status": "subscribed"},
    ]
    assert isinstance(subscription["created_at"], int)


def test_invalid_subscriptions_are_422_with_their_fields(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    cases = [
        ({"topic": "t" * 101, "categories": []}, ["subscription.topic"]),
        ({"topic": "t"}, ["subscription.categories"]),
        ({"topic": "t", "categories": [{"reason": "x"}]}, ["subscription.categories.0.slug"]),
        (
            {"topic": "t", "categories": [{"slug": "c" * 101, "reason": "r" * 256}]},
            ["subscription.categories.0.reason", "subscription.categories.0.slug"],
        ),
        ({"topic": "t", "categories": [{"slug": "a"}, {"slug": "a"}]}, ["subscription.categories"]),
    ]
    for body, fields in cases:
        response = client.post(URL, json={"subscription": body}, headers=headers)
        assert response.status_code == 422, body
        assert sorted(e["field"] for e in response.get_json()["errors"]) == fields, body


def test_unsubscribing_from_listed_categories_keeps_the_topic(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    _subscribe(client, headers, "issue-1", "comments", "mentions")

    response = _unsubscribe(client, headers, "issue-1", "comments")

    assert response.status_code == 200
    subscription = response.get_json()["subscription"]
    assert subscription["status"] == "subscribed"
    assert _statuses(subscription) == {"comments": "unsubscribed", "mentions": "subscribed"}


def test_unsubscribing_without_categories_leaves_the_whole_topic(
    client: FlaskClient, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    _subscribe(client, headers, "issue-1", "comments")

    response = _unsubscribe(client, headers, "issue-1")

    assert response.get_json()["subscription"]["status"] == "unsubscribed"
    shown = client.get(f"{URL}/issue-1", headers=headers).get_json()["subscription"]
    assert shown["status"] == "unsubscribed"


def test_opting_out_of_a_topic_never_followed_is_recorded_without_subscribing(
    client: FlaskClient, tenant: Tenant
):
    response = _unsubscribe(client, tenant.user_headers("u-1"), "issue-9", "comments")

    subscription = response.get_json()["subscription"]
    assert subscription["status"] is None
    assert _statuses(subscription) == {"comments": "unsubscribed"}


def test_opting_out_of_a_topic_name_longer_than_100_characters_is_422(
    client: FlaskClient, tenant: Tenant
):
    response = _unsubscribe(client, tenant.user_headers("u-1"), "t" * 101, "comments")

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "topic"


def test_subscribing_again_resubscribes_after_an_opt_out(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    _subscribe(client, headers, "issue-1", "comments")
    _unsubscribe(client, headers, "issue-1", "comments")
    _unsubscribe(client, headers, "issue-1")

    response = _subscribe(client, headers, "issue-1")

    subscription = response.get_json()["subscription"]
    assert subscription["status"] == "subscribed"
    assert _statuses(subscription) == {"comments": "subscribed"}


def test_list_is_paginated_by_topic(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    for topic in ("c", "a", "b"):
        _subscribe(client, headers, topic)

    page = client.get(f"{URL}?per_page=2", headers=headers).get_json()

    assert [s["topic"] for s in page["subscriptions"]] == ["a", "b"]
    assert (page["total"], page["total_pages"], page["current_page"]) == (3, 2, 1)
    assert client.get(f"{URL}?per_page=101", headers=headers).status_code == 422


def test_topics_with_slashes_work_url_encoded(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    _subscribe(client, headers, "repo/issue-1")

    assert _unsubscribe(client, headers, "repo%2Fissue-1").status_code == 200
    assert (
        client.get(f"{URL}/repo%2Fissue-1", headers=headers).get_json()["subscription"]["topic"]
        == "repo/issue-1"
    )


def test_delete_removes_listed_categories_or_the_whole_subscription(
    client: FlaskClient, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    _subscribe(client, headers, "issue-1", "comments", "mentions")

    partial = client.delete(
        f"{URL}/issue-1", json={"categories": [{"slug": "comments"}]}, headers=headers
    )
    remaining = client.get(f"{URL}/issue-1", headers=headers).get_json()["subscription"]
    whole = client.delete(f"{URL}/issue-1", headers=headers)

    assert (partial.status_code, whole.status_code, whole.get_data()) == (204, 204, b"")
    assert _statuses(remaining) == {"mentions": "subscribed"}
    assert client.get(f"{URL}/issue-1", headers=headers).status_code == 404
    assert client.delete(f"{URL}/issue-1", headers=headers).status_code == 404


def test_delete_accepts_the_wrapped_categories_form(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    _unsubscribe(client, headers, "issue-1", "comments")

    response = client.delete(
        f"{URL}/issue-1",
        json={"subscription": {"categories": [{"slug": "comments"}]}},
        headers=headers,
    )

    assert response.status_code == 204
    assert client.get(f"{URL}/issue-1", headers=headers).status_code == 404


def test_users_never_see_or_change_each_others_subscriptions(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    ann = tenant.user_headers("ann")
    _subscribe(client, ann, "issue-1", "comments")

    for headers in (tenant.user_headers("bob"), other_tenant.user_headers("ann")):
        assert client.get(URL, headers=headers).get_json()["subscriptions"] == []
        assert client.get(f"{URL}/issue-1", headers=headers).status_code == 404
        assert client.delete(f"{URL}/issue-1", headers=headers).status_code == 404
        _unsubscribe(client, headers, "issue-1")

    assert client.get(f"{URL}/issue-1", headers=ann).get_json()["subscription"]["status"] == (
        "subscribed"
    )


def test_subscriptions_need_a_valid_user_hmac(client: FlaskClient, tenant: Tenant):
    bare = {"X-API-Key": tenant.api_key, "X-User-External-ID": "u-1"}

    assert client.get(URL, headers=bare).status_code == 401
    assert client.get(URL, headers={**bare, "X-User-HMAC": "d3Jvbmc="}).status_code == 403
    assert client.get(URL, headers={**bare, "X-API-Secret": tenant.secret}).status_code == 200
