"""What a user-supplied URL may lead to: the address rule, the registration check and the send-time
check. Pure logic over literal addresses and a stub resolver: no connection is made."""

from __future__ import annotations

import ipaddress

import pytest

from app.config import Settings
from app.engine.channels.destinations import (
    BlockedDestination,
    DestinationGuard,
    DestinationPolicy,
    non_public_range,
)
from app.runtime import web_push_policy
from tests.support.resolvers import StubResolver

STRICT = DestinationPolicy()
PUBLIC = "93.184.216.34"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "shared"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.8", "reserved"),
        ("192.0.2.1", "reserved"),
        ("198.18.0.1", "reserved"),
        ("198.51.100.7", "reserved"),
        ("203.0.113.9", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "reserved"),
        ("2001::1", "reserved"),
        ("100::1", "reserved"),
        ("::127.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.5", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("64:ff9b::a00:5", "private"),
        ("64:ff9b:1::1", "private"),
        ("2002:7f00:1::1", "loopback"),
        ("2002:c0a8:101::1", "private"),
    ],
)
def test_every_non_public_range_is_named(address: str, kind: str):
    assert non_public_range(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        PUBLIC,
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200a",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_are_in_no_range(address: str):
    assert non_public_range(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/push/x", "127.0.0.1 is a loopback address"),
        ("https://10.0.0.5:443/admin/users", "10.0.0.5 is a private address"),
        ("https://192.168.0.10/push", "192.168.0.10 is a private address"),
        ("https://169.254.169.254/latest/meta-data", "is a link-local address"),
        ("https://[::1]/push", "::1 is a loopback address"),
        ("https://[fe80::1]/push", "fe80::1 is a link-local address"),
        ("https://[::ffff:127.0.0.1]/push", "is a loopback address"),
        ("https://[fd00::5]/push", "is a private address"),
        ("https://0.0.0.0/push", "0.0.0.0 is an unspecified address"),
        ("https://localhost/push", "localhost names this machine"),
        ("https://LOCALHOST./push", "localhost names this machine"),
        ("https://push.localhost/x", "names this machine"),
        ("https://intranet/push", "intranet is a single-label name"),
        ("https://2130706433/push", "single-label name"),
        ("https://127.1/push", "non-standard form"),
        ("https://0x7f.0.0.1/push", "non-standard form"),
        ("http://fcm.googleapis.com/fcm/send/x", "must use https"),
        ("https://fcm.googleapis.com:6443/fcm/send/x", "port 6443 is not one allowed here (443)"),
        ("https://user:secret@fcm.googleapis.com/x", "must not carry credentials"),
        ("https://fcm.googleapis.com:99999/x", "malformed"),
        ("https:///push", "has no host"),
    ],
)
def test_registration_refuses_urls_leading_inside_the_network_and_says_why(url: str, why: str):
    resolver = StubResolver({"fcm.googleapis.com": [PUBLIC]})

    refusal = DestinationGuard(STRICT, resolver=resolver).registration_refusal(url)

    assert refusal is not None and why in refusal


def test_literal_addresses_and_local_names_are_refused_without_asking_the_resolver():
    resolver = StubResolver()
    guard = DestinationGuard(STRICT, resolver=resolver)

    for url in ("https://10.0.0.5/x", "https://localhost/x", "https://intranet/x"):
        assert guard.registration_refusal(url) is not None

    assert resolver.asked == []


def test_a_name_that_resolves_to_a_private_address_is_refused_at_registration():
    guard = DestinationGuard(STRICT, resolver=StubResolver({"push.corp.example": ["10.1.2.3"]}))

    refusal = guard.registration_refusal("https://push.corp.example/push/x")

    assert refusal == "The URL's host push.corp.example resolves to a private address."


def test_one_private_answer_among_public_ones_is_enough_to_refuse():
    resolver = StubResolver({"push.example.com": [PUBLIC, "127.0.0.1"]})

    refusal = DestinationGuard(STRICT, resolver=resolver).registration_refusal(
        "https://push.example.com/x"
    )

    assert refusal is not None and "resolves to a loopback address" in refusal


def test_a_public_name_and_a_name_that_does_not_resolve_yet_are_accepted():
    guard = DestinationGuard(STRICT, resolver=StubResolver({"fcm.googleapis.com": [PUBLIC]}))

    assert guard.registration_refusal("https://fcm.googleapis.com/fcm/send/abc") is None
    assert guard.registration_refusal("https://push.split-dns.example/x") is None
    assert guard.registration_refusal(f"https://{PUBLIC}/push") is None


def test_ports_named_by_the_operator_are_accepted_besides_443():
    guard = DestinationGuard(
        DestinationPolicy.from_lists(ports="8443, 9443"),
        resolver=StubResolver({"p.example": [PUBLIC]}),
    )

    assert guard.registration_refusal("https://p.example:8443/x") is None
    assert guard.registration_refusal("https://p.example/x") is None
    refusal = guard.registration_refusal("https://p.example:8080/x")
    assert refusal is not None and "(443, 8443, 9443)" in refusal


def test_host_patterns_restrict_endpoints_to_the_listed_push_services():
    policy = DestinationPolicy.from_lists(
        hosts="fcm.googleapis.com, *.push.services.mozilla.com, web.push.apple.com"
    )
    names = [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "web.push.apple.com",
        "a.b.push.services.mozilla.com",
        "push.services.mozilla.com",
        "evilfcm.googleapis.com",
        "fcm.googleapis.com.evil.example",
    ]
    guard = DestinationGuard(policy, resolver=StubResolver({name: [PUBLIC] for name in names}))

    accepted = [n for n in names if guard.registration_refusal(f"https://{n}/x") is None]

    assert accepted == names[:4]
    refusal = guard.registration_refusal("https://evilfcm.googleapis.com/x")
    assert refusal == "The URL's host evilfcm.googleapis.com is not one this installation sends to."


def test_allow_private_lifts_the_address_name_and_port_rules_and_admits_http():
    guard = DestinationGuard(DestinationPolicy(allow_private=True), resolver=StubResolver())

    for url in (
        "https://127.0.0.1:8443/push/x",
        "http://127.0.0.1:8080/push/x",
        "https://localhost:4443/x",
        "https://[::1]/x",
        "https://10.0.0.5/x",
    ):
        assert guard.registration_refusal(url) is None
    assert guard.registration_refusal("ftp://127.0.0.1/x") == "The URL must use https."


def test_allow_private_keeps_the_operators_host_patterns():
    policy = DestinationPolicy.from_lists(hosts="push.example.net", allow_private=True)
    guard = DestinationGuard(policy, resolver=StubResolver())

    assert guard.registration_refusal("https://push.example.net:8443/x") is None
    assert guard.registration_refusal("https://127.0.0.1/x") is not None


@pytest.mark.parametrize(
    ("ports", "hosts"), [("443,abc", ""), ("70000", ""), ("", "*"), ("", "push.example.com/x")]
)
def test_malformed_settings_are_refused(ports: str, hosts: str):
    with pytest.raises(ValueError, match="not a"):
        DestinationPolicy.from_lists(ports=ports, hosts=hosts)


def test_the_web_push_policy_comes_from_the_three_settings():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "sqlite://",
            "SECRET_KEY": "k",
            "WEBPUSH_ALLOWED_PORTS": "8443",
            "WEBPUSH_ALLOWED_HOSTS": "fcm.googleapis.com,*.notify.windows.com",
            "WEBPUSH_ALLOW_PRIVATE": "false",
        }
    )

    assert web_push_policy(settings) == DestinationPolicy(
        ports=frozenset({443, 8443}),
        host_patterns=("fcm.googleapis.com", "*.notify.windows.com"),
        allow_private=False,
    )
    assert web_push_policy(Settings.from_env({"DATABASE_URL": "sqlite://", "SECRET_KEY": "k"})) == (
        STRICT
    )


def test_at_send_time_the_name_is_resolved_again_and_a_rebound_answer_is_blocked():
    resolver = StubResolver({"push.example.com": [PUBLIC]})
    guard = DestinationGuard(STRICT, resolver=resolver)
    url = "https://push.example.com/push/x"
    assert guard.registration_refusal(url) is None

    resolver.answers["push.example.com"] = ["127.0.0.1"]
    with pytest.raises(BlockedDestination) as blocked:
        guard.destination(url)

    assert blocked.value.reason == "blocked_destination"
    assert blocked.value.detail == "The URL's host push.example.com resolves to a loopback address."


def test_a_checked_answer_is_what_the_request_goes_to_and_is_reused_briefly():
    resolver = StubResolver({"push.example.com": [PUBLIC, "2606:4700:4700::1111"]})
    guard = DestinationGuard(STRICT, resolver=resolver)

    first = guard.destination("https://push.example.com:443/push/a")
    again = guard.destination("https://push.example.com/push/b")

    assert first.addresses == again.addresses == (PUBLIC, "2606:4700:4700::1111")
    assert (first.host, first.port, first.host_header) == (
        "push.example.com",
        443,
        "push.example.com",
    )
    assert resolver.asked == ["push.example.com"]


def test_a_refused_answer_is_not_remembered():
    resolver = StubResolver({"push.example.com": ["10.0.0.5"]})
    guard = DestinationGuard(STRICT, resolver=resolver)

    for _ in range(2):
        with pytest.raises(BlockedDestination):
            guard.destination("https://push.example.com/x")

    assert resolver.asked == ["push.example.com", "push.example.com"]


def test_a_name_that_does_not_resolve_at_send_time_has_no_address_to_go_to():
    guard = DestinationGuard(STRICT, resolver=StubResolver())

    with pytest.raises(OSError):
        guard.destination("https://push.example.com/x")
    proxied = guard.destination("https://push.example.com/x", require_addresses=False)

    assert proxied.addresses == ()


def test_a_literal_public_address_is_its_own_answer():
    resolver = StubResolver()

    destination = DestinationGuard(STRICT, resolver=resolver).destination(
        "https://[2606:4700::1]/x"
    )

    assert destination.addresses == ("2606:4700::1",)
    assert destination.host_header == "[2606:4700::1]"
    assert resolver.asked == []
