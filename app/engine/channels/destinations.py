"""Which user-supplied URLs Herald may contact, and at which addresses.

End users choose some of the URLs Herald's workers request (a browser's Web Push endpoint).
Inside a private network those requests must not reach internal services, so every such URL
passes one `DestinationGuard`: when it is registered, and again at each send, where the name is
resolved here and the request goes to an address this module checked (see `GuardedHttp`), so a
name that changes its answer after registration (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.engine.channels.base import PermanentFailure

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name resolves to; OSError when it does not resolve.
Resolver = Callable[[str, int], Sequence[str]]

_V4, _V6 = ipaddress.IPv4Network, ipaddress.IPv6Network
# Listed by hand rather than taken from `is_private` / `is_global`, whose meaning has changed
# between Python releases.
_V4_RANGES: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),  # 0.0.0.0 reaches the local host on Linux
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared"),  # carrier-grade NAT
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),  # cloud metadata services live here
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved"),
    (_V4("192.0.2.0/24"), "reserved"),
    (_V4("192.88.99.0/24"), "reserved"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "reserved"),
    (_V4("198.51.100.0/24"), "reserved"),
    (_V4("203.0.113.0/24"), "reserved"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),  # and the broadcast address
)
_V6_RANGES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "private"),  # local-use NAT64
    (_V6("2001::/23"), "reserved"),  # protocol assignments, Teredo among them
    (_V6("2001:db8::/32"), "reserved"),
    (_V6("fc00::/7"), "private"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "private"),  # the deprecated site-local range
    (_V6("ff00::/8"), "multicast"),
)
_V6_GLOBAL_UNICAST = _V6("2000::/3")
_NAT64 = _V6("64:ff9b::/96")


def non_public_range(address: IPAddress) -> str | None:
    """The kind of non-public range the address is in ("loopback", "private", ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return non_public_range(embedded)
        for network, kind in _V6_RANGES:
            if address in network:
                return kind
        return None if address in _V6_GLOBAL_UNICAST else "reserved"
    for network, kind in _V4_RANGES:
        if address in network:
            return kind
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a mapped, NAT64 or 6to4 address leads to: the one a packet reaches."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


@dataclass(frozen=True)
class DestinationPolicy:
    """What a user-supplied URL may name. `allow_private` (development and tests, with a
    service on loopback) lifts the address, name and port rules and admits plain http;
    `allow_loopback` lifts them for this machine's addresses only (`localhost`, 127.0.0.0/8,
    ::1), every other non-public address still refused."""

    ports: frozenset[int] = frozenset({443})
    host_patterns: tuple[str, ...] = ()  # "push.example.com" or "*.example.com"; empty: any
    allow_private: bool = False
    allow_loopback: bool = False

    @classmethod
    def from_lists(
        cls,
        *,
        ports: str = "",
        hosts: str = "",
        allow_private: bool = False,
        allow_loopback: bool = False,
    ) -> DestinationPolicy:
        """From comma-separated settings; ValueError names a malformed entry."""
        extra_ports = {_port_number(item) for item in _items(ports)}
        patterns = tuple(_host_pattern(item) for item in _items(hosts))
        return cls(frozenset({443} | extra_ports), patterns, allow_private, allow_loopback)

    def allows_host(self, host: str) -> bool:
        return not self.host_patterns or any(_matches(host, p) for p in self.host_patterns)


@dataclass(frozen=True)
class Destination:
    """A URL that passed the policy, with the checked addresses a request may go to."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]  # empty when the name did not resolve

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


class BlockedDestination(PermanentFailure):
    """The URL leads somewhere Herald does not send to: no request was made, and the
    registration that named it should stop being used. `detail` says why, for operators only:
    the app sees the stable reason, which tells an end user nothing about the network."""

    def __init__(self, detail: str) -> None:
        super().__init__("blocked_destination")
        self.detail = detail


class _Refused(Exception):
    pass


def resolve_host(host: str, port: int) -> list[str]:
    """The system resolver's addresses for a name, in its order of preference."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


class DestinationGuard:
    """Applies a `DestinationPolicy` to user-supplied URLs, resolving names with `resolver`."""

    # Send-time answers are reused briefly: a push batch would otherwise ask the resolver once
    # per message. Only checked answers are kept, so reuse never skips the check.
    RESOLVED_TTL_S = 30.0
    MAX_RESOLVED = 1024

    def __init__(self, policy: DestinationPolicy, *, resolver: Resolver = resolve_host) -> None:
        self.policy = policy
        self.resolver = resolver
        self._resolved: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}

    def registration_refusal(self, url: str) -> str | None:
        """Why the URL may not be registered, or None. A name that does not resolve now
        (offline, split DNS) is accepted: each send checks it again."""
        try:
            destination = self._destination(url)
            if not destination.addresses and not self.policy.allow_private:
                resolved = self.resolver(destination.host, destination.port)
                self._check_addresses(destination.host, resolved, literal=False)
        except _Refused as refused:
            return str(refused)
        except OSError:
            return None
        return None

    def destination(self, url: str, *, require_addresses: bool = True) -> Destination:
        """The URL with the checked addresses to send to; BlockedDestination when the policy
        refuses it, OSError when its name does not resolve (unless `require_addresses` is
        False: a proxy will resolve it)."""
        try:
            destination = self._destination(url)
            if destination.addresses:
                return destination
            addresses = self._resolved_for_sending(destination.host, destination.port)
        except _Refused as refused:
            log.warning("blocked a request to a user-supplied URL: %s", refused)
            raise BlockedDestination(str(refused)) from None
        except OSError:
            if require_addresses:
                raise
            addresses = ()
        return Destination(destination.scheme, destination.host, destination.port, addresses)

    def _destination(self, url: str) -> Destination:
        """The URL checked up to resolution; a literal address is its own answer."""
        policy = self.policy
        scheme, host, port = _parts(url, policy.allow_private or policy.allow_loopback)
        if not policy.allows_host(host):
            raise _Refused(f"The URL's host {host} is not one this installation sends to.")
        literal = _literal_address(host)
        loopback = policy.allow_loopback and _names_loopback(host, literal)
        if scheme == "http" and not (policy.allow_private or loopback):
            raise _Refused("The URL must use https.")
        if not (policy.allow_private or loopback):
            if port not in self.policy.ports:
                allowed = ", ".join(str(p) for p in sorted(self.policy.ports))
                raise _Refused(f"The URL's port {port} is not one allowed here ({allowed}).")
            if literal is None:
                _check_name(host)
            else:
                self._check_addresses(host, [str(literal)], literal=True)
        return Destination(scheme, host, port, (str(literal),) if literal else ())

    def _resolved_for_sending(self, host: str, port: int) -> tuple[str, ...]:
        now = time.monotonic()
        cached = self._resolved.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        addresses = tuple(self.resolver(host, port))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        self._check_addresses(host, addresses, literal=False)
        if len(self._resolved) >= self.MAX_RESOLVED:
            self._resolved.clear()
        self._resolved[(host, port)] = (now + self.RESOLVED_TTL_S, addresses)
        return addresses

    def _check_addresses(self, host: str, addresses: Iterable[str], *, literal: bool) -> None:
        """Every address must be public: a name answering a private address among public ones
        points into the network as surely as one answering only that."""
        if self.policy.allow_private:
            return
        for raw in addresses:
            kind = non_public_range(ipaddress.ip_address(raw))
            if kind is not None and not (kind == "loopback" and self.policy.allow_loopback):
                verb = "is" if literal else "resolves to"
                article = "an" if kind[0] in "aeiou" else "a"
                raise _Refused(f"The URL's host {host} {verb} {article} {kind} address.")


def _parts(url: str, allow_private: bool) -> tuple[str, str, int]:
    """Scheme, normalized host and port of an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _Refused("The URL is malformed.") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise _Refused("The URL must use https.")
    if parts.username is not None or parts.password is not None:
        raise _Refused("The URL must not carry credentials.")
    host = _normalized_host(parts.hostname or "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _normalized_host(host: str) -> str:
    """Lower case, no trailing dot, IDNA (ASCII) form: how names are compared and resolved."""
    host = host.rstrip(".")
    if not host:
        raise _Refused("The URL has no host.")
    if _literal_address(host) is not None:
        return host
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise _Refused("The URL's host is not a valid name.") from exc


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _names_loopback(host: str, literal: IPAddress | None) -> bool:
    if literal is not None:
        return non_public_range(literal) == "loopback"
    return host == "localhost" or host.endswith(".localhost")


def _check_name(host: str) -> None:
    """Names that lead inside the network whatever a resolver says about them now."""
    if host == "localhost" or host.endswith(".localhost"):
        raise _Refused(f"The URL's host {host} names this machine.")
    if "." not in host:
        raise _Refused(f"The URL's host {host} is a single-label name, local to the network.")
    last_label = host.rsplit(".", 1)[1]
    if last_label.isdigit() or last_label.startswith("0x"):
        # 127.1, 0x7f.0.0.1 and the like: resolvers read them as IPv4 addresses.
        raise _Refused(f"The URL's host {host} is an address in a non-standard form.")


def _items(listed: str) -> list[str]:
    return [item.strip() for item in listed.split(",") if item.strip()]


def _port_number(item: str) -> int:
    if not item.isdigit() or not 0 < int(item) < 65536:
        raise ValueError(f"not a port number: {item!r}")
    return int(item)


def _host_pattern(item: str) -> str:
    wildcard = item.startswith("*.")
    name = item[2:] if wildcard else item
    if not name or "*" in name or "/" in name or ":" in name:
        raise ValueError(f"not a host name or *.suffix pattern: {item!r}")
    return ("*." if wildcard else "") + name.rstrip(".").encode("idna").decode("ascii").lower()


def _matches(host: str, pattern: str) -> bool:
    """Exact, or for "*.example.com" any name below it (whole labels, not example.com)."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern
