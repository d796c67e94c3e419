"""The SSRF guard of webhook targets: only http(s) URLs whose host is a public address.

A subscription names an arbitrary URL, so without this guard a subscriber could make the
backbone POST into the command center's own network (metadata services, admin ports).
A host is refused when it is, or resolves to, any address that is not public: loopback,
private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), unspecified, multicast,
reserved, or otherwise not globally routable (e.g. 100.64/10). Every resolved address
must pass, not just the first, since the client may connect to any of them.

A name can be re-pointed after the subscription was checked (DNS rebinding), so delivery
calls `check_target` again before every attempt, and its own connector resolves through
`GuardedResolver`, so the addresses it connects to are the ones that were checked.

    TargetRefused        the URL must not be delivered to (carries the reason)
    └── TargetUnresolved the host does not resolve now; DNS may heal, so delivery retries
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["TargetRefused", "TargetUnresolved", "check_target", "address_refusal", "GuardedResolver"]

_SCHEMES = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """A webhook URL that must not be delivered to; `reason` never holds a secret."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TargetUnresolved(TargetRefused):
    """The host has no address now. Refused when subscribing; retried when delivering."""


def address_refusal(address: str) -> str | None:
    """Why a connection to this IP address is refused, or None when it is public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1 on the wire
    # Most specific first: 169.254/16 and 0.0.0.0 are also "private" to ipaddress.
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_target(url: str, allow_private: bool) -> None:
    """Raise TargetRefused unless `url` is http(s) with a host that is and resolves to
    public addresses only. `allow_private` (setting SITAWARE_WEBHOOK_ALLOW_PRIVATE) lifts
    the address rule — for tests and closed networks — but never the scheme rule.

    Resolution is blocking (socket.getaddrinfo); call it off the event loop.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("malformed URL") from None
    if parts.scheme not in _SCHEMES:
        raise TargetRefused(f"scheme {parts.scheme or '(none)'!r} is not http or https")
    host = parts.hostname
    if not host:
        raise TargetRefused("URL has no host")
    if allow_private:
        return
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port or _SCHEMES[parts.scheme], type=socket.SOCK_STREAM)
        except UnicodeError:
            raise TargetRefused(f"host {host!r} is not a valid name") from None
        except OSError as exc:
            raise TargetUnresolved(f"host {host!r} does not resolve ({type(exc).__name__})") from None
        addresses = sorted({info[4][0] for info in infos})
        if not addresses:
            raise TargetUnresolved(f"host {host!r} does not resolve")
    for address in addresses:
        refusal = address_refusal(address)
        if refusal is not None:
            if literal is not None:
                raise TargetRefused(f"host {host!r} is {refusal}")
            raise TargetRefused(f"host {host!r} resolves to {address}, {refusal}")


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses names resolving to any non-public address.

    It closes the window between `check_target` and the connection: the connector uses
    exactly the addresses checked here. (aiohttp does not resolve IP literals, which
    `check_target` judges without DNS.)
    """

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            refusal = address_refusal(result["host"])
            if refusal is not None:
                raise TargetRefused(f"host {host!r} resolves to {result['host']}, {refusal}")
        return results

    async def close(self) -> None:
        await self._inner.close()
