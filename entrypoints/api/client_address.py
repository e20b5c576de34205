"""The real client address of a request: the peer, or, when the peer is a trusted proxy, the
right-most address of ``Forwarded`` / ``X-Forwarded-For`` that is not a trusted proxy.

Each proxy appends the address it received the request from, so entries to the left of the
nearest untrusted hop may be anything a client wrote: only the right-hand part, written by
proxies we trust, is believed (``TRUSTED_PROXIES``; none by default, when the peer is the client).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Longer entries are not addresses: cut, so a key stays small whatever a proxy forwards.
MAX_ENTRY = 64


def networks_of(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``TRUSTED_PROXIES`` (already validated by the settings) as networks."""
    return tuple(ipaddress.ip_network(c) for c in cidrs)


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: IPAddress | None, trusted: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in trusted)


def _forwarded_for(values: Iterable[str]) -> list[str]:
    """The ``for=`` of each element of ``Forwarded`` (RFC 7239), in order: quotes, brackets and
    ports removed (``for="[2001:db8::1]:4711"`` → ``2001:db8::1``)."""
    hops: list[str] = []
    for value in values:
        for element in value.split(","):
            for pair in element.split(";"):
                name, _, raw = pair.strip().partition("=")
                if name.strip().lower() != "for":
                    continue
                text = raw.strip().strip('"')
                if text.startswith("["):
                    text = text[1 : text.find("]")] if "]" in text else text[1:]
                elif text.count(":") == 1:
                    text = text.split(":", 1)[0]  # IPv4 with a port
                hops.append(text)
    return hops


def _x_forwarded_for(values: Iterable[str]) -> list[str]:
    return [hop.strip() for value in values for hop in value.split(",") if hop.strip()]


def client_address(
    peer: str, headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[IPNetwork]
) -> str:
    """The client's address for a request from ``peer`` with ASGI ``headers``.

    An untrusted peer is the client: its headers are ignored (a forged ``X-Forwarded-For`` changes
    nothing). From a trusted peer, the hops of ``Forwarded`` (or, without it, of
    ``X-Forwarded-For``) are read right to left and the first one not in ``trusted`` wins; when
    every hop is trusted, the left-most is the client. An entry that is not an address (``unknown``,
    an obfuscated name) stops the walk: it is the client as far as we can tell."""
    if not trusted or not _is_trusted(_address(peer), trusted):
        return peer
    forwarded: list[str] = []
    x_forwarded: list[str] = []
    for name, value in headers:
        if name == b"forwarded":
            forwarded.append(value.decode("latin-1"))
        elif name == b"x-forwarded-for":
            x_forwarded.append(value.decode("latin-1"))
    hops = _forwarded_for(forwarded) if forwarded else _x_forwarded_for(x_forwarded)
    if not hops:
        return peer
    for hop in reversed(hops):
        address = _address(hop)
        if not _is_trusted(address, trusted):
            return str(address) if address is not None else hop[:MAX_ENTRY]
    first = _address(hops[0])
    return str(first) if first is not None else hops[0][:MAX_ENTRY]
