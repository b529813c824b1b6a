"""HTTP requests to user-supplied URLs, sent only to addresses a `DestinationGuard` checked.

The name is resolved by the guard and the connection opened to the checked address, while TLS
is still verified against the URL's host name (SNI and certificate), so an answer that changes
between the check and the connection cannot redirect the request. Redirects are never followed
and a reply is read only up to `MAX_REPLY_BYTES`.

An operator's proxy (HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY) resolves names itself, so Herald
cannot choose the address there: the guard still refuses literal addresses and names that
resolve to non-public addresses here, and a name that does not resolve here is left to the
proxy, whose own rules then decide (docs/operations.md).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3

from app.engine.channels.destinations import Destination, DestinationGuard

MAX_REPLY_BYTES = 16 * 1024
# A name's checked addresses are tried in the resolver's order when one cannot be connected to
# (an IPv6 answer on a host without an IPv6 route); a few are enough.
MAX_ADDRESSES_TRIED = 3
MAX_REMEMBERED_HOSTS = 1024


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes  # at most MAX_REPLY_BYTES
    retry_after: str | None = None  # the `Retry-After` header, when the service sent one


class GuardedHttp:
    """A keep-alive HTTP client for user-supplied URLs; `ca_certs` replaces the system's trust
    store (tests trust their own certificate authority with it)."""

    def __init__(
        self, guard: DestinationGuard, *, ca_certs: str | None = None, pool_size: int = 32
    ) -> None:
        self.guard = guard
        self._ca_certs = ca_certs
        self._pool_size = pool_size
        # urllib3 rather than requests: a quarter of the client CPU per push. One pool per
        # (checked address, port, host name): connections are kept alive per destination and
        # shared by the process's threads; retries are the caller's business.
        self._pinned = urllib3.PoolManager(
            num_pools=64, maxsize=pool_size, retries=False, ca_certs=ca_certs
        )
        self._proxy_by_host: dict[tuple[str, str], str | None] = {}
        self._proxies: dict[str, urllib3.ProxyManager] = {}

    def post(
        self, url: str, *, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> HttpReply:
        """POST once. BlockedDestination, before any connection, when the guard refuses the URL;
        urllib3 errors or OSError (a name that does not resolve) when it cannot be reached."""
        proxy = self._proxy_for(url)
        destination = self.guard.destination(url, require_addresses=proxy is None)
        options: dict[str, Any] = {
            "body": body,
            "redirect": False,
            "retries": False,
            "timeout": urllib3.Timeout(connect=timeout, read=timeout),
            "preload_content": False,
            "decode_content": False,  # a compressed reply could expand far beyond the limit
        }
        if proxy is not None:
            response = self._proxy_manager(proxy).urlopen(
                "POST", url, headers=dict(headers), **options
            )
            return _bounded_reply(response)
        *fallbacks, last = destination.addresses[:MAX_ADDRESSES_TRIED]
        for address in fallbacks:
            try:
                return self._post_to(address, destination, url, headers, options)
            except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
                continue  # nothing was sent; the next checked address may be reachable (IPv4)
        return self._post_to(last, destination, url, headers, options)

    def _post_to(
        self,
        address: str,
        destination: Destination,
        url: str,
        headers: Mapping[str, str],
        options: dict[str, Any],
    ) -> HttpReply:
        pool = self._pinned.connection_from_host(
            address,
            destination.port,
            destination.scheme,
            pool_kwargs={"server_hostname": destination.host, "assert_hostname": destination.host},
        )
        response = pool.urlopen(
            "POST",
            _path_and_query(url),
            headers={**headers, "Host": destination.host_header},
            assert_same_host=False,
            **options,
        )
        return _bounded_reply(response)

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for this URL's scheme and host, read once per host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxy_by_host:
            if len(self._proxy_by_host) >= MAX_REMEMBERED_HOSTS:
                self._proxy_by_host.clear()
            proxy = urllib.request.getproxies().get(key[0])
            bypassed = not proxy or urllib.request.proxy_bypass(key[1])
            self._proxy_by_host[key] = None if bypassed else proxy
        return self._proxy_by_host[key]

    def _proxy_manager(self, proxy: str) -> urllib3.ProxyManager:
        manager = self._proxies.get(proxy)
        if manager is None:
            manager = urllib3.ProxyManager(
                proxy, num_pools=64, maxsize=self._pool_size, retries=False, ca_certs=self._ca_certs
            )
            self._proxies[proxy] = manager
        return manager


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _bounded_reply(response: urllib3.BaseHTTPResponse) -> HttpReply:
    """The status and at most MAX_REPLY_BYTES of the body; a longer body is not read on, and
    its connection is closed rather than reused."""
    body = response.read(MAX_REPLY_BYTES + 1, decode_content=False)
    if len(body) > MAX_REPLY_BYTES:
        response.close()
    response.release_conn()
    return HttpReply(response.status, body[:MAX_REPLY_BYTES], response.headers.get("Retry-After"))
