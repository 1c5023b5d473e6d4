"""Which destinations outbound requests may reach: public unicast addresses only, unless the operator
allows private ones (a platform on the same network, or tests against localhost).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

import anyio
import httpx

from ltigate.net.errors import OutboundRefused, OutboundUnreachable

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES: Final = ("http", "https")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def check_scheme(url: httpx.URL) -> None:
    """Refuse anything but an absolute http(s) URL with a host."""
    if url.scheme not in _SCHEMES:
        given = repr(url.scheme) if url.scheme else "a relative URL"
        raise OutboundRefused(str(url), f"only http and https URLs are fetched, not {given}")
    if not url.raw_host:
        raise OutboundRefused(str(url), "the URL has no host")


async def refuse_private_destination(url: httpx.URL) -> None:
    """Refuse `url` when its host is, or resolves to, an address that is not public unicast (see
    `addresses_to_connect`; used where the connection itself is made by someone else)."""
    await addresses_to_connect(url, allow_private=False)


async def addresses_to_connect(url: httpx.URL, *, allow_private: bool) -> list[str]:
    """The IP addresses (as text) to connect to for `url`: its IP literal, or what its host resolves to.

    Unless `allow_private`, every address must be public: a name with one private address among public
    ones could be routed to it. The connection must then go to exactly these addresses, never to the name
    resolved again, so DNS rebinding between check and connect is not possible; an egress proxy or
    firewall remains the complete defence. Raises OutboundRefused, or OutboundUnreachable when the host
    does not resolve.
    """
    host = url.raw_host.decode("ascii")
    literal = _parse_ip(host)
    if literal is not None:
        found: list[tuple[str, IpAddress]] = [(host, literal)]
    else:
        found = await _resolve(url, host)
    if not allow_private:
        for _, address in found:
            kind = non_public_kind(address)
            if kind is not None:
                shown = host if literal is not None else f"{host} ({address})"
                raise OutboundRefused(str(url), f"{shown} is a {kind} address; private destinations are not allowed")
    return list(dict.fromkeys(text for text, _ in found))


def non_public_kind(address: IpAddress) -> str | None:
    """What makes `address` unfit for outbound requests (e.g. 'loopback'), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        # Shared address space (100.64.0.0/10) and similar: neither private nor reachable on the internet.
        ("non-global", not address.is_global),
    )
    return next((kind for kind, applies in checks if applies), None)


def _parse_ip(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


async def _resolve(url: httpx.URL, host: str) -> list[tuple[str, IpAddress]]:
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 443)
    try:
        entries = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise OutboundUnreachable(str(url), f"the host {host!r} does not resolve ({exc.strerror or exc})") from None
    found = [(str(entry[4][0]), _parse_ip(str(entry[4][0]))) for entry in entries]
    addresses = [(text, address) for text, address in found if address is not None]
    if not addresses:
        raise OutboundUnreachable(str(url), f"the host {host!r} resolves to no IP address")
    return addresses
